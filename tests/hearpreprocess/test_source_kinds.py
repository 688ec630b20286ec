"""Source kinds end to end through the runner, with bad input: a multipart zip whose part is
missing or corrupt, and a file list with a truncated file. Each run that cannot finish ends with
one clear line naming the task and what failed, damages nothing already built, and a rerun after
the fix continues where it stopped (only what is missing is fetched again).
"""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

import luigi.configuration
import pytest
from fakes import make_fake_corpus

from hearcore.hashing import file_md5
from hearpreprocess import config as config_module
from hearpreprocess import runner
from hearpreprocess.builtin.archives import write_split_zip, write_tar_gz, write_zip
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.config import load_task_config
from hearpreprocess.filelist import parse_manifest
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.splits import MISSING_IN_SMALL

PARTS_URL = "https://corpora.test/split/tones.zip"


# A task of a test's own: the tones corpus, read by the tones recipe, from the sources that follow.
def _task_toml(task: str, small_mode: str) -> str:
    return f"""task_name = "{task}"
version = "v1"
embedding_type = "scene"
prediction_type = "multiclass"
split_mode = "new_split_kfold"
nfolds = 5
sample_duration = 1.0
evaluation = ["top1_acc"]
default_mode = "small"
recipe = "tones"

[modes.small]
{small_mode}"""


SPLIT_SOURCE = """[[modes.small.download_urls]]
split = "train"
kind = "multipart_zip"
parts = [{parts}]
"""


@pytest.fixture(autouse=True)
def fast_retries():
    config = luigi.configuration.get_config()
    if not config.has_section("download"):
        config.add_section("download")
    for key, value in (("retries", "1"), ("backoff", "0.01"), ("timeout", "5")):
        config.set("download", key, value)
    yield
    config.remove_section("download")


def _argv(tmp_path: Path, task: str, mode: str, mirror: str, work: str, *extra: str) -> list:
    return [
        task,
        f"--mode={mode}",
        f"--mirror={mirror}",
        f"--work-dir={tmp_path / work}",
        f"--tasks-dir={tmp_path / 'tasks'}",
        "--no-tarballs",
        "--workers=1",
        "--sample-rate=16000",
        *extra,
    ]


def _recipes_folder(tmp_path: Path, monkeypatch) -> Path:
    """A recipes folder for tasks of a test's own that read their corpus with the tones recipe
    (its module and TOML copied), made the registry for the test."""
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for name in ("tones.toml", "tones.py"):
        (recipes / name).write_bytes((config_module.RECIPES_DIR / name).read_bytes())
    monkeypatch.setattr(config_module, "RECIPES_DIR", recipes)
    return recipes


@pytest.fixture()
def split_tones(tmp_path, monkeypatch):
    """A task `split_tones`: the tones corpus (4 clips per pitch) as a 4-part split zip."""
    archive = tmp_path / "tones.zip"
    write_archive(archive, clips_per_label=4)
    with zipfile.ZipFile(archive) as z:
        members = {name: z.read(name) for name in z.namelist()}
    root = tmp_path / "mirror"
    parts = write_split_zip(mirror_location(root, PARTS_URL), members, part_size=1 << 20)
    urls = {path: PARTS_URL.rsplit("/", 1)[0] + "/" + path.name for path in parts}
    records = ", ".join(f'{{ url = "{urls[p]}", md5 = "{md5}" }}' for p, md5 in parts.items())
    recipes = _recipes_folder(tmp_path, monkeypatch)
    (recipes / "split_tones.toml").write_text(
        _task_toml("split_tones", SPLIT_SOURCE.format(parts=records))
    )
    assert len(parts) >= 3
    return root, sorted(parts)


def test_multipart_zip_missing_then_corrupt_part(tmp_path, split_tones, capsys):
    root, parts = split_tones
    middle = parts[1]
    saved = middle.read_bytes()
    middle.unlink()
    with MirrorServer(root) as server:
        assert runner.main(_argv(tmp_path, "split_tones", "small", server.url, "work")) == 1
        lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("NOT BUILT")]
        assert len(lines) == 1 and lines[0].startswith("NOT BUILT: split_tones-v1-small:")
        assert "404" in lines[0] and middle.name in lines[0]
        assert not (tmp_path / "tasks" / "split_tones-v1-small").exists()

        middle.write_bytes(saved)
        server.requests_log.clear()
        assert runner.main(_argv(tmp_path, "split_tones", "small", server.url, "work")) == 0
        fetched = {Path(path).name for method, path, _ in server.requests_log if method == "GET"}
        assert fetched == {middle.name}, "the parts already verified were fetched again"
    bundle = tmp_path / "tasks" / "split_tones-v1-small"
    manifest = (bundle / "manifest.json").read_bytes()
    assert len(list((bundle / "16000").rglob("*.wav"))) == 20

    # A part whose bytes are damaged but whose pinned md5 says they are right: the join fails,
    # naming the part, and the bundle built before stays as it was.
    data = bytearray(saved)
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    middle.write_bytes(bytes(data))
    override = tmp_path / "override.toml"
    url = PARTS_URL.rsplit("/", 1)[0] + "/" + middle.name
    override.write_text(f'[split_tones.sources."{url}"]\nmd5 = "{file_md5(middle)}"\n')
    capsys.readouterr()
    with MirrorServer(root) as server:
        argv = _argv(tmp_path, "split_tones", "small", server.url, "work2")
        assert runner.main(argv + [f"--config-overrides={override}"]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("NOT BUILT: split_tones-v1-small:"))
    assert "SourceFolder failed" in line and middle.name in line
    assert (bundle / "manifest.json").read_bytes() == manifest


def test_file_list_with_a_truncated_file_resumes(tmp_path, capsys):
    config = load_task_config("tfds_crema_d", "full")
    root = tmp_path / "mirror"
    fake = make_fake_corpus(root, config)
    override = tmp_path / "override.toml"
    override.write_text(
        "".join(f'[tfds_crema_d.sources."{u}"]\nmd5 = "{m}"\n' for u, m in fake.md5.items())
    )
    manifest = mirror_location(root, config.sources[0].url).read_text()
    listed = parse_manifest(manifest, "fake manifest")
    victim = mirror_location(root, next(f.url for f in listed if f.filename.endswith(".wav")))
    saved = victim.read_bytes()
    victim.write_bytes(saved[: len(saved) // 2])
    extra = f"--config-overrides={override}"
    with MirrorServer(root) as server:
        assert runner.main(_argv(tmp_path, "tfds_crema_d", "full", server.url, "w", extra)) == 1
        out = capsys.readouterr().out
        line = next(x for x in out.splitlines() if x.startswith("NOT BUILT"))
        assert line.startswith("NOT BUILT: tfds_crema_d-1.0.0-full:") and victim.name in line
        assert "rerun" in line or "run again" in line

        victim.write_bytes(saved)
        server.requests_log.clear()
        assert runner.main(_argv(tmp_path, "tfds_crema_d", "full", server.url, "w", extra)) == 0
        fetched = [Path(path).name for method, path, _ in server.requests_log if method == "GET"]
        assert fetched == [victim.name], "files already verified were fetched again"
    bundle = tmp_path / "tasks" / config.bundle_name
    assert (bundle / "manifest.json").is_file()


def test_listed_file_missing_is_an_error_in_full_mode_and_reported_in_small(tmp_path, capsys):
    reports = {}
    for mode in ("full", "small"):
        config = load_task_config("esc50", mode)
        root = tmp_path / mode
        make_fake_corpus(root, config)
        archive = mirror_location(root, config.sources[0].url)
        with zipfile.ZipFile(archive) as z:
            members = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
        victim = sorted(n for n in members if n.endswith(".wav"))[0]
        del members[victim]
        md5 = write_zip(archive, members)
        override = tmp_path / f"{mode}.toml"
        override.write_text(f'[esc50.sources."{config.sources[0].url}"]\nmd5 = "{md5}"\n')
        with MirrorServer(root) as server:
            argv = _argv(tmp_path, "esc50", mode, server.url, f"w-{mode}")
            code = runner.main(argv + [f"--config-overrides={override}"])
        out = capsys.readouterr().out
        reports[mode] = (code, out, config, Path(victim).stem)
    code, out, config, stem = reports["full"]
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("NOT BUILT: esc50-v2.0.0-full:"))
    assert "CorpusMetadata failed" in line and f"{stem}.wav" in line
    assert config.sources[0].url in line, "the message names the archive the file should be in"
    code, out, config, stem = reports["small"]
    assert code == 0, out
    report = json.loads((tmp_path / "tasks" / config.bundle_name / "report.json").read_text())
    absent = [r for r in report["metadata"] if r["reason"] == MISSING_IN_SMALL]
    assert len({r["split"] for r in absent}) == len(absent), "one record per split"
    assert stem in {clip for r in absent for clip in r["clips"]}
    assert all(r["rows"] >= len(r["clips"]) > 0 for r in absent)


def test_rar_without_its_backend_says_what_to_install_and_keeps_the_download(
    tmp_path, monkeypatch, capsys
):
    """The archive is fine (its checksum matched): the message says to install unar, not to
    delete it, and the verified download is kept for the rerun."""
    root = tmp_path / "mirror"
    url = "https://corpora.test/rar/tones.rar"
    archive = mirror_location(root, url)
    archive.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(200))  # a RAR5 signature, then nothing
    recipes = _recipes_folder(tmp_path, monkeypatch)
    record = f'[[modes.small.download_urls]]\nsplit = "train"\nurl = "{url}"\n'
    record += f'md5 = "{file_md5(archive)}"\n'
    (recipes / "rar_tones.toml").write_text(_task_toml("rar_tones", record))
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with MirrorServer(root) as server:
        assert runner.main(_argv(tmp_path, "rar_tones", "small", server.url, "work")) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("NOT BUILT"))
    host = socket.gethostname()
    assert line.startswith(f"NOT BUILT: rar_tones-v1-small: SourceFolder failed on {host}: task ")
    assert "apt-get install unar" in line and "delete" not in line
    downloaded = tmp_path / "work" / "downloads" / file_md5(archive) / "tones.rar"
    assert downloaded.is_file(), "the verified download was thrown away"


LAZY_SOURCE = """max_task_duration_by_fold = {cap}
[[modes.small.download_urls]]
split = "train"
url = "{url}"
md5 = "{md5}"
{first}
"""


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_extract_first_writes_only_the_metadata_and_the_kept_audio(tmp_path, monkeypatch, fmt):
    """A source declared `extract_first` unpacks its metadata before the splits and only the
    audio the capped folds keep after them; the bundle equals the one from a full extraction."""
    archive = tmp_path / "tones.zip"
    write_archive(archive, clips_per_label=4)  # 20 clips
    with zipfile.ZipFile(archive) as z:
        members = {name: z.read(name) for name in z.namelist()}
    root = tmp_path / "mirror"
    url = f"https://corpora.test/lazy/tones.{fmt}"
    write = write_zip if fmt == "zip" else write_tar_gz
    md5 = write(mirror_location(root, url), members)
    recipes = _recipes_folder(tmp_path, monkeypatch)
    manifests = {}
    for lazy in (True, False):
        first = 'extract_first = ["*/labels.csv"]' if lazy else ""
        toml = _task_toml("lazy_tones", LAZY_SOURCE.format(cap=2.0, url=url, md5=md5, first=first))
        (recipes / "lazy_tones.toml").write_text(toml)
        work = f"work-{lazy}"
        with MirrorServer(root) as server:
            argv = _argv(tmp_path, "lazy_tones", "small", server.url, work)
            assert runner.main(argv + [f"--tasks-dir={tmp_path / f'tasks-{lazy}'}"]) == 0
        bundle = tmp_path / f"tasks-{lazy}" / "lazy_tones-v1-small"
        manifests[lazy] = json.loads((bundle / "manifest.json").read_text())["files"]
        if lazy:
            (folder,) = (tmp_path / work / "sources").iterdir()
            extracted = sorted(
                p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
            )
            assert extracted == [".archive-members.txt", ".archive-path", "tones-v1/labels.csv"]
            kept = list((tmp_path / work / "kept").glob("lazy_tones-*/0/**/*.wav"))
            # A tar is read front to back: its kept clips are extracted in one more pass. A zip
            # member is read in place, by random access: nothing is copied.
            expected = 0 if fmt == "zip" else 10  # the 2 clips of each of the 5 folds
            assert len(kept) == expected
    assert manifests[True] == manifests[False]
