"""Config resolution: every registered recipe parses, modes merge, overrides apply, digests move."""

import json

import pytest

from hearpreprocess import config as config_module
from hearpreprocess.config import (
    ConfigError,
    TaskConfig,
    list_modes,
    list_tasks,
    load_task_config,
    read_overrides,
    read_recipe,
)


@pytest.mark.parametrize("task", list_tasks())
def test_every_mode_of_every_recipe_resolves(task):
    for mode in list_modes(task):
        config = load_task_config(task, mode)
        assert config.bundle_name == f"{task}-{config.version}-{mode}"
        assert TaskConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
        meta = config.task_metadata()
        assert meta["splits"] == config.splits and meta["mode"] == mode
        assert "modes" not in meta


@pytest.mark.parametrize("task", list_tasks())
def test_default_mode_is_a_mode(task):
    assert read_recipe(task)["default_mode"] in list_modes(task)


def test_mode_overrides_and_digest():
    full = load_task_config("tones", "full")
    small = load_task_config("tones", "small")
    assert full.max_task_duration_by_fold is None
    assert small.max_task_duration_by_fold == 10.0
    assert full.digest() != small.digest()
    assert full.digest() == load_task_config("tones", "full").digest()


def test_overrides_replace_keys_and_source_fields():
    url = load_task_config("tones").sources[0].url
    config = load_task_config(
        "tones", "full", {"sample_duration": 2, "sources": {url: {"md5": "0" * 32}}}
    )
    assert config.sample_duration == 2.0
    assert config.sources[0].md5 == "0" * 32


def test_kfold_metadata_matches_real_hear_key_order():
    keys = list(load_task_config("tones").task_metadata())
    # Order seen in the task_metadata.json of the real hear-2021.0.6 spoken_digit bundle.
    assert keys == [
        "task_name", "version", "embedding_type", "prediction_type", "split_mode", "nfolds",
        "sample_duration", "evaluation", "default_mode", "download_urls",
        "max_task_duration_by_fold", "tmp_dir", "mode", "splits",
    ]  # fmt: skip


def test_unknown_mode_and_task_and_bad_values_fail_clearly():
    with pytest.raises(ConfigError, match="no mode 'huge'"):
        load_task_config("tones", "huge")
    with pytest.raises(ConfigError, match="no task 'nope'"):
        load_task_config("nope")
    with pytest.raises(ConfigError, match="did you mean 'esc50'"):
        load_task_config("esc-50")
    with pytest.raises(ConfigError, match="split_mode must be"):
        load_task_config("tones", "full", {"split_mode": "random"})
    with pytest.raises(ConfigError, match="md5"):
        url = load_task_config("tones").sources[0].url
        load_task_config("tones", "full", {"sources": {url: {"md5": "abc"}}})


def test_source_key_and_filename_drop_query():
    config = load_task_config("tones")
    source = config.sources[0]
    assert source.key == "train" and source.filename == "tones-v1.zip"
    beehive = type(source)(split="hive1", name="12062018", url="https://z/x/H 1.rar?download=1",
                           checksum="0" * 32)  # fmt: skip
    assert beehive.key == "hive1/12062018" and beehive.filename == "H 1.rar"


def _recipes_dir(tmp_path, monkeypatch, tail: str, top: str = ""):
    """A recipes folder holding one task `fake_task` (tones' TOML and module stand in for it);
    `top` goes before its first table, `tail` after its last."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    tones = config_module.recipe_path("tones").read_text().replace('"tones"', '"fake_task"')
    text = f'recipe = "tones"\n{top}{tones}{tail}'
    (folder / "fake_task.toml").write_text(text)
    (folder / "tones.py").write_text("")
    monkeypatch.setattr(config_module, "RECIPES_DIR", folder)
    return folder / "fake_task.toml"


def test_unknown_recipe_key_names_the_file_and_the_nearest_key(tmp_path, monkeypatch):
    path = _recipes_dir(tmp_path, monkeypatch, "", top="sample_duraton = 3.0\n")
    with pytest.raises(ConfigError) as error:
        load_task_config("fake_task")
    assert str(path) in str(error.value)
    assert "'sample_duraton'" in str(error.value) and "'sample_duration'" in str(error.value)


def test_unknown_key_in_a_mode_table_or_a_source_is_an_error(tmp_path, monkeypatch):
    _recipes_dir(tmp_path, monkeypatch, "")
    text = config_module.recipe_path("fake_task").read_text()
    config_module.recipe_path("fake_task").write_text(
        text.replace("[modes.small]\n", "[modes.small]\nmax_task_duration = 1.0\n")
    )
    with pytest.raises(ConfigError, match="modes.small.*'max_task_duration'.*did you mean"):
        load_task_config("fake_task", "small")
    config_module.recipe_path("fake_task").write_text(text.replace('md5 = "', 'md55 = "', 1))
    with pytest.raises(ConfigError, match="unknown key 'md55'"):
        load_task_config("fake_task", "full")


def test_override_file_with_a_misspelt_key_or_an_unknown_task_is_an_error(tmp_path):
    misspelt = tmp_path / "a.toml"
    misspelt.write_text("[esc50]\nsample_duraton = 3.0\n")
    with pytest.raises(ConfigError) as error:
        read_overrides(misspelt)
    message = str(error.value)
    assert str(misspelt) in message and "[esc50]" in message
    assert "'sample_duraton'" in message and "did you mean 'sample_duration'" in message
    unknown = tmp_path / "b.toml"
    unknown.write_text("[esc-50]\nsample_duration = 3.0\n")
    with pytest.raises(ConfigError, match=r"\[esc-50\] names no task; did you mean \[esc50\]"):
        read_overrides(unknown)
    good = tmp_path / "c.toml"
    good.write_text(
        '[esc50]\nsample_duration = 3.0\n[esc50.sources."https://x/y.zip"]\nmd5 = "0"\n'
    )
    assert read_overrides(good)["esc50"]["sample_duration"] == 3.0


def test_override_values_of_the_wrong_type_name_the_key_and_the_type(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('[tones]\nsample_duration = "3s"\n')
    with pytest.raises(ConfigError) as error:
        read_overrides(path)
    assert str(error.value) == (
        f'override file {path}, table [tones]: sample_duration = "3s" is a string, expected a '
        "number of seconds (e.g. sample_duration = 3.0)"
    )
    with pytest.raises(ConfigError, match="overrides of task 'tones': evaluation = .* a list"):
        load_task_config("tones", "full", {"evaluation": "top1_acc"})
    with pytest.raises(ConfigError, match="nfolds = true is a boolean, expected an integer"):
        load_task_config("tones", "full", {"nfolds": True})
    assert load_task_config("tones", "full", {"sample_duration": 2}).sample_duration == 2.0


def test_metadata_extras_are_declared_and_written():
    config = load_task_config("tones", "full", {"pitch_range_min": 21, "pitch_range_max": 108})
    meta = config.task_metadata()
    assert (meta["pitch_range_min"], meta["pitch_range_max"]) == (21, 108)
    with pytest.raises(ConfigError, match="'pitch_range_mn'.*did you mean 'pitch_range_min'"):
        load_task_config("tones", "full", {"pitch_range_mn": 21})


def test_source_kinds_parse_and_checksums_take_md5_or_sha256(tmp_path, monkeypatch):
    _recipes_dir(
        tmp_path,
        monkeypatch,
        """
[[modes.full.download_urls]]
split = "parts"
kind = "multipart_zip"
parts = [{ url = "https://h/a.z01", md5 = "%s" }, { url = "https://h/a.zip", sha256 = "%s" }]

[[modes.full.download_urls]]
split = "raw"
kind = "file"
url = "https://h/raw.wav?download=1"
sha256 = "%s"
""" % ("1" * 32, "2" * 64, "3" * 64),
    )
    config = load_task_config(
        "fake_task", "full", {"sources": {"https://h/a.z01": {"md5": "4" * 32}}}
    )
    parts, raw = config.sources[1:]
    assert parts.kind == "multipart_zip" and [r.checksum for r in parts.remotes] == [
        "4" * 32,
        "2" * 64,
    ]
    assert raw.kind == "file" and raw.remotes[0].filename == "raw.wav"
    records = config.task_metadata()["download_urls"]
    assert records[1]["parts"][1] == {"url": "https://h/a.zip", "sha256": "2" * 64}
    assert records[2] == {"split": "raw", "kind": "file", "url": raw.url, "sha256": "3" * 64}
    assert TaskConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
