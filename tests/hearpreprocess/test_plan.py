"""The dry-run plan (hearpreprocess.plan) against real work dirs: fresh, partly fetched, built by
a real run of the `tones` task through a loopback mirror, and after a config override changed.
A dry run must not write anything: each test compares a listing of every path and mtime."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from hearcore.format import tarball_name
from hearpreprocess import runner
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.plan import make_plan, plan_json, print_plan
from hearpreprocess.throughput import (
    DEFAULT_AUDIO_SECONDS_PER_SECOND,
    THROUGHPUT_FILE,
    record_throughput,
)

BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://corpora.test/tones/tones-v1.zip"
BUNDLE = "tones-v1-small"
RATES = (16000, 22050)
FIRST_STEPS = ["DownloadedFile", "SourceFolder", "CorpusMetadata", "SplitMetadata", "TaskBundle"]


pytestmark = pytest.mark.usefixtures("fast_retries")


def tree(*roots: Path) -> dict[str, int]:
    """Every path under `roots` (the roots too) with its mtime; absent roots map to -1."""
    listing = {}
    for root in roots:
        listing[str(root)] = root.stat().st_mtime_ns if root.exists() else -1
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                listing[path] = os.lstat(path).st_mtime_ns
    return listing


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A loopback mirror serving a small tones archive; yields (server, archive path, md5)."""
    root = tmp_path_factory.mktemp("mirror")
    archive = mirror_location(root, URL)
    md5 = write_archive(archive, clips_per_label=4)
    with MirrorServer(root) as server:
        yield server, archive, md5


def arguments(out: Path, mirror: str, md5: str, fields: str = "", rates=RATES):
    """Runner arguments for tones (small) in `out`, and the configs they resolve to."""
    overrides = out / f"overrides-{abs(hash(fields))}.toml"
    source = f'[tones.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n'
    overrides.write_text((f"[tones]\n{fields}\n" if fields else "") + source)
    argv = ["tones", "--mode=small", f"--mirror={mirror}", f"--config-overrides={overrides}"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    argv += ["--workers=1"] + [f"--sample-rate={sr}" for sr in rates]
    args = runner.parse_args(argv)
    return args, runner.resolve_configs(args)[0]


def kinds(steps) -> list[str]:
    return [s.kind for s in steps]


def dirs(out: Path) -> list[Path]:
    return [out / name for name in ("work", "tasks", "tar")]


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    """A real run of the runner (in this process), its throughput recorded as a run would."""
    server, _, md5 = corpus
    out = tmp_path_factory.mktemp("built")
    args, configs = arguments(out, server.url, md5)
    report = runner.build(args, (configs, []))
    assert report.ok, report.failures
    assert "AudioShard" in {r["step"] for r in report.ran}
    recorded = record_throughput(configs, args, report.ran)
    return out, recorded


def test_fresh_work_dir_lists_every_step_and_the_download_size(corpus, tmp_path):
    server, archive, md5 = corpus
    args, configs = arguments(tmp_path, server.url, md5)
    before, logged = tree(*dirs(tmp_path)), len(server.requests_log)
    plan = make_plan(configs, args)
    assert tree(*dirs(tmp_path)) == before, "the dry run wrote something"
    assert not (tmp_path / "work").exists()
    (task,) = plan.tasks
    assert task.bundle == BUNDLE and not task.up_to_date
    assert kinds(task.to_run) == FIRST_STEPS + ["TaskTarball"] * len(RATES)
    tarballs = {s.path for s in task.to_run if s.kind == "TaskTarball"}
    assert tarballs == {f"tar/{tarball_name(BUNDLE, sr)}" for sr in RATES}
    assert not task.shards_known
    (download,) = task.downloads
    assert download.bytes_to_fetch == archive.stat().st_size
    requests = server.requests_log[logged:]
    assert [method for method, _, _ in requests] == ["HEAD"], "a dry run must not download"
    text = io.StringIO()
    print_plan(plan, text)
    shown = text.getvalue()
    assert "audio shards: unknown until SplitMetadata has run" in shown
    assert "no measurement yet, assuming" in shown and "up to date: nothing" in shown
    for kind in FIRST_STEPS:
        assert f"to run: {kind} " in shown
    data = json.loads(json.dumps(plan_json(plan)))
    assert data["totals"]["bytes_to_fetch"] == archive.stat().st_size
    assert data["totals"]["steps_to_run"] == len(FIRST_STEPS) + len(RATES)


def test_partial_download_counts_as_fetched(corpus, tmp_path):
    server, archive, md5 = corpus
    args, configs = arguments(tmp_path, server.url, md5)
    part = tmp_path / "work" / "downloads" / md5 / "tones-v1.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(archive.read_bytes()[:1000])
    before = tree(*dirs(tmp_path))
    (task,) = make_plan(configs, args).tasks
    assert tree(*dirs(tmp_path)) == before
    (download,) = task.downloads
    assert (download.fetched_bytes, download.bytes_to_fetch) == (
        1000,
        archive.stat().st_size - 1000,
    )


def test_unreachable_mirror_leaves_the_size_unknown(corpus, tmp_path):
    _, _, md5 = corpus
    with MirrorServer(tmp_path) as gone:
        url = gone.url  # a port that nothing listens on once the server stops
    args, configs = arguments(tmp_path, url, md5)
    (task,) = make_plan(configs, args).tasks
    (download,) = task.downloads
    assert download.bytes_to_fetch is None and "size unknown" in download.note
    assert task.time.value is None and task.disk.value is None


@pytest.mark.slow
def test_after_a_build_everything_is_up_to_date(corpus, built):
    server, _, md5 = corpus
    out, recorded = built
    args, configs = arguments(out, server.url, md5)
    before, logged = tree(*dirs(out)), len(server.requests_log)
    plan = make_plan(configs, args)
    assert tree(*dirs(out)) == before, "the dry run wrote something"
    assert len(server.requests_log) == logged, "nothing to download, so no request"
    (task,) = plan.tasks
    assert not task.to_run and plan.nothing_to_do
    assert kinds(task.up_to_date) == ["TaskTarball"] * len(RATES)
    assert (task.disk.value, task.time.value) == (0, 0)
    text = io.StringIO()
    print_plan(plan, text)
    assert "a run would do nothing" in text.getvalue()
    # The run's measurement, not the default, now drives the estimates.
    assert recorded and recorded["audio_seconds"] > 0
    stored = json.loads((out / "work" / THROUGHPUT_FILE).read_text())
    assert stored["audio"][",".join(map(str, RATES))] == recorded
    assert "measured at these rates" in plan.throughput
    assert str(DEFAULT_AUDIO_SECONDS_PER_SECOND) not in plan.throughput


@pytest.mark.slow
def test_bundle_only_override_rebuilds_bundle_and_tarballs(corpus, built):
    server, _, md5 = corpus
    out, _ = built
    args, configs = arguments(out, server.url, md5, 'evaluation = ["top1_acc"]')
    before = tree(*dirs(out))
    (task,) = make_plan(configs, args).tasks
    assert tree(*dirs(out)) == before
    assert kinds(task.to_run) == ["TaskBundle"] + ["TaskTarball"] * len(RATES)
    shards = [s for s in task.steps if s.kind == "AudioShard"]
    assert task.shards_known and shards and all(s.done for s in shards)
    assert "SplitMetadata" in kinds(task.up_to_date)
    # The shard plan knows the clips (one second each); the bundle links the audio shards in
    # place, so only the tarballs take more disk: every clip at their rate, 2 bytes a sample.
    clips = len(list((out / "tasks" / BUNDLE / str(RATES[0])).glob("*/*.wav")))
    assert clips > 0
    assert task.disk.value == pytest.approx(clips * 1.0 * sum(RATES) * 2)
    assert task.disk.basis == "from the shard plan" and task.audio.value == 0


@pytest.mark.slow
def test_split_override_rebuilds_from_the_split_step(corpus, built):
    server, _, md5 = corpus
    out, _ = built
    args, configs = arguments(out, server.url, md5, "sample_duration = 0.5")
    before = tree(*dirs(out))
    (task,) = make_plan(configs, args).tasks
    assert tree(*dirs(out)) == before
    assert kinds(task.to_run) == ["SplitMetadata", "TaskBundle"] + ["TaskTarball"] * len(RATES)
    assert kinds(task.up_to_date) == ["CorpusMetadata"]
    assert not task.shards_known and not task.downloads


@pytest.mark.slow
def test_other_rates_count_the_audio_shards_to_run(corpus, built):
    server, _, md5 = corpus
    out, _ = built
    rate = RATES[0]
    args, configs = arguments(out, server.url, md5, rates=(rate,))
    before = tree(*dirs(out))
    (task,) = make_plan(configs, args).tasks
    assert tree(*dirs(out)) == before
    plan = json.loads(next((out / "work" / "splits").glob("tones-*/shards.json")).read_text())
    planned = sum(len(shards) for shards in plan["splits"].values())
    assert planned > 0 and task.shards_known
    assert kinds(task.to_run) == ["AudioShard"] * planned + ["TaskBundle", "TaskTarball"]
    # Seconds from the plan: the shards write every clip once, and so does the tarball.
    clips = len(list((out / "tasks" / BUNDLE / str(rate)).glob("*/*.wav")))
    assert task.audio.value == pytest.approx(clips * 1.0)
    assert task.disk.value == pytest.approx(clips * 1.0 * rate * 2 * 2)
    # Nothing was measured at this rate set: the conservative default, said so.
    assert task.time.value == pytest.approx(clips / DEFAULT_AUDIO_SECONDS_PER_SECOND)
    text = io.StringIO()
    print_plan(make_plan(configs, args), text)
    assert f"audio shards: {planned} to run, 0 up to date" in text.getvalue()
    assert "no measurement yet, assuming" in text.getvalue()
