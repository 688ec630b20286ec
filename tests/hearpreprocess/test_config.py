"""Config resolution: every registered recipe parses, modes merge, overrides apply, digests move."""

import json

import pytest

from hearpreprocess.config import (
    ConfigError,
    TaskConfig,
    list_modes,
    list_tasks,
    load_task_config,
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
    # Order seen in the real hear-2021.0.6 spoken_digit bundle (FORMAT.md §2.3).
    assert keys == [
        "task_name", "version", "embedding_type", "prediction_type", "split_mode", "nfolds",
        "sample_duration", "evaluation", "default_mode", "download_urls",
        "max_task_duration_by_fold", "tmp_dir", "mode", "splits",
    ]  # fmt: skip


def test_unknown_mode_and_task_and_bad_values_fail_clearly():
    with pytest.raises(ConfigError, match="no mode 'huge'"):
        load_task_config("tones", "huge")
    with pytest.raises(ConfigError, match="no recipe for task 'nope'"):
        load_task_config("nope")
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
                           md5="0" * 32)  # fmt: skip
    assert beehive.key == "hive1/12062018" and beehive.filename == "H 1.rar"
