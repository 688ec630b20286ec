"""Cron rebuilds: a rerun with nothing changed writes nothing, and each kind of change (source
checksum, recipe code, override, pipeline code version) reruns exactly the steps it affects.

One `tones` build is made per module; each test works on a copy of it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from tones_mirror import BUNDLE, URL, cli

import hearpreprocess
from hearcore.hashing import file_md5
from hearpreprocess import runner
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.pipeline import base
from hearpreprocess.recipes import tones as tones_recipe

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fast_retries")]

BUNDLE_ON = {"TaskBundle", "TaskTarball"}
AUDIO_ON = {"AudioShard"} | BUNDLE_ON
SPLITS_ON = {"SplitMetadata"} | AUDIO_ON
METADATA_ON = {"CorpusMetadata"} | SPLITS_ON
EVERYTHING = {"DownloadedFile", "SourceFolder"} | METADATA_ON


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A mirror root holding the tones archive at URL; yields (server url, root, md5)."""
    root = tmp_path_factory.mktemp("mirror")
    archive = mirror_location(root, URL)
    write_archive(archive, clips_per_label=3)
    with MirrorServer(root) as server:
        yield server.url, root, file_md5(archive)


@pytest.fixture(scope="module")
def built(tmp_path_factory, served):
    url, _, md5 = served
    out = tmp_path_factory.mktemp("built")
    assert runner.main(cli(out, url, md5)) == 0  # main: the tarball index too
    return out


@pytest.fixture()
def copy(tmp_path, built) -> Path:
    out = tmp_path / "out"
    shutil.copytree(built, out, symlinks=True)
    return out


def _rebuild(out: Path, served, md5: str | None = None, **fields) -> set[str]:
    url, _, good_md5 = served
    report = runner.build(runner.parse_args(cli(out, url, md5 or good_md5, fields=fields)))
    assert report.ok, report.not_built
    return {r["step"] for r in report.ran} - {"AllTasks"}


def _snapshot(out: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder (but the work dir itself, which holds the run's lock file) with
    its mtime and size."""
    work = out / "work"
    return {
        str(p.relative_to(out)): (p.lstat().st_mtime_ns, p.lstat().st_size)
        for p in sorted(out.rglob("*"))
        if p != work and not p.name.startswith("overrides-")
    }


def test_a_rerun_with_nothing_changed_writes_nothing(copy, served, capsys):
    before = _snapshot(copy)
    start = time.monotonic()
    url, _, md5 = served
    assert runner.main(cli(copy, url, md5)) == 0
    seconds = time.monotonic() - start
    assert "nothing to do" in capsys.readouterr().out
    assert _snapshot(copy) == before
    print(f"no-change rebuild: {seconds:.1f} s")


def test_a_changed_source_checksum_rebuilds_from_the_download(copy, served, tmp_path):
    url, root, _ = served
    other_root = tmp_path / "other-mirror"
    write_archive(mirror_location(other_root, URL), clips_per_label=2)
    new_md5 = file_md5(mirror_location(other_root, URL))
    with MirrorServer(other_root) as other:
        report = runner.build(runner.parse_args(cli(copy, other.url, new_md5)))
    assert report.ok, report.not_built
    assert {r["step"] for r in report.ran} - {"AllTasks"} == EVERYTHING


def test_a_recipe_code_change_rebuilds_from_the_metadata(copy, served, monkeypatch):
    monkeypatch.setattr(tones_recipe, "CODE_VERSION", tones_recipe.CODE_VERSION + 1)
    assert _rebuild(copy, served) == METADATA_ON


@pytest.mark.parametrize("fields", [{"max_task_duration_by_fold": 8.0}, {"sample_duration": 0.5}])
def test_a_split_or_duration_override_rebuilds_from_the_splits(copy, served, fields):
    assert _rebuild(copy, served, **fields) == SPLITS_ON


def test_a_metadata_only_override_rebuilds_the_bundle_only(copy, served):
    assert _rebuild(copy, served, evaluation=["top1_acc"]) == BUNDLE_ON


def test_an_audio_code_version_bump_rebuilds_the_audio(copy, served, monkeypatch):
    monkeypatch.setattr(base, "AUDIO_VERSION", base.AUDIO_VERSION + 1)
    assert _rebuild(copy, served) == AUDIO_ON


def test_a_package_version_change_rebuilds_the_bundle_and_tarballs(copy, served, monkeypatch):
    monkeypatch.setattr(hearpreprocess, "__version__", hearpreprocess.__version__ + ".post1")
    assert _rebuild(copy, served) == BUNDLE_ON
    assert (copy / "tasks" / BUNDLE).is_dir()
