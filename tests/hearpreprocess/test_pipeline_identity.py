"""Step identities: which config edits rebuild which steps, which run settings key which Luigi
steps (two modes or two runs share what they can); shard plans; row files."""

from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path

import luigi
import luigi.task
import pandas as pd
import pytest

from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.config import load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.pipeline import AllTasks, DownloadedFile, TaskBundle, shards
from hearpreprocess.pipeline.base import (
    CORPUS_FIELDS,
    SPLIT_FIELDS,
    audio_identity,
    bundle_identity,
    config_view,
    metadata_identity,
    read_rows,
    split_identity,
    view_config,
    write_rows,
)
from hearpreprocess.pipeline.download import source_folder
from hearpreprocess.pipeline.shards import (
    SHARD_MAX_CLIPS,
    SHARD_SECONDS,
    UNEXTRACTED_CLIP_SECONDS,
    clip_seconds,
    plan_shards,
    read_shard,
    read_shard_counts,
    shard_bounds,
    write_plan,
)

RATES = [16000, 48000]


def identities(cfg, rates=RATES, resampler="soxr"):
    return (
        metadata_identity(cfg),
        split_identity(cfg),
        audio_identity(cfg, rates, resampler),
        bundle_identity(cfg, rates, resampler),
    )


def test_sample_duration_edit_keeps_metadata():
    cfg = load_task_config("tones", "small")
    edited = load_task_config("tones", "small", {"sample_duration": 0.5})
    a, b = identities(cfg), identities(edited)
    assert a[0] == b[0]
    assert all(x != y for x, y in zip(a[1:], b[1:]))


def test_rates_and_resampler_touch_audio_only():
    cfg = load_task_config("tones", "small")
    base = identities(cfg)
    for other in (identities(cfg, rates=[16000]), identities(cfg, resampler="resampy")):
        assert other[:2] == base[:2] and other[2] != base[2] and other[3] != base[3]


def test_split_rules_do_not_touch_metadata():
    cfg = load_task_config("tones", "small")
    edited = dataclasses.replace(cfg, nfolds=4)
    assert metadata_identity(cfg) == metadata_identity(edited)
    assert split_identity(cfg) != split_identity(edited)


def test_archive_steps_are_shared_across_modes_and_mirrors():
    small, full = load_task_config("tones", "small"), load_task_config("tones", "full")
    (s,), (f,) = small.sources, full.sources
    a = DownloadedFile(
        checksum=s.checksum, filename=s.filename, work_dir="w", url=s.url, mirror="http://a"
    )
    b = DownloadedFile(
        checksum=f.checksum, filename=f.filename, work_dir="w", url="https://x/y", mirror="http://b"
    )
    assert a.task_id == b.task_id and a.output().path == b.output().path
    folders = [source_folder(x, "w", mirror=m) for x, m in ((s, "http://a"), (f, "http://b"))]
    assert folders[0].task_id == folders[1].task_id
    assert folders[0].output().path.endswith(f"sources/archive-{s.checksum}")
    assert metadata_identity(small) != metadata_identity(full)  # small drops missing files


def test_plan_shards_is_contiguous_and_bounded():
    clips = pd.DataFrame({"relpath": [f"/x/{i}.wav" for i in range(1000)]})
    shards = plan_shards(clips, 1.0)
    assert shards[0][0] == 0 and shards[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(shards, shards[1:]))
    assert all(stop - start <= SHARD_SECONDS for start, stop in shards)
    assert all(stop - start >= SHARD_SECONDS for start, stop in shards[:-1])
    assert plan_shards(clips.iloc[:0], 1.0) == []


def test_shard_bounds_by_hand():
    assert SHARD_SECONDS == 300.0
    # A shard closes at the first clip that brings it to 300 s or more; the last takes the rest.
    assert shard_bounds([100, 250, 10, 300, 5, 5]) == [(0, 2), (2, 4), (4, 6)]
    assert shard_bounds([150, 150, 1]) == [(0, 2), (2, 3)]  # exactly 300 s closes it
    assert shard_bounds([299.5, 0.4, 0.2]) == [(0, 3)]
    assert shard_bounds([400, 1]) == [(0, 1), (1, 2)]  # one long clip is a shard of its own
    assert shard_bounds([0.1] * (2 * SHARD_MAX_CLIPS + 5)) == [
        (0, SHARD_MAX_CLIPS),
        (SHARD_MAX_CLIPS, 2 * SHARD_MAX_CLIPS),
        (2 * SHARD_MAX_CLIPS, 2 * SHARD_MAX_CLIPS + 5),
    ]


def test_shard_bounds_lower_and_upper_bounds():
    rng = random.Random(0)
    costs = [rng.choice([0.3, 1.0, 7.5, 30.0, 120.0, 600.0]) for _ in range(3000)]
    shards = shard_bounds(costs)
    assert shards[0][0] == 0 and shards[-1][1] == len(costs)
    assert all(a[1] == b[0] for a, b in zip(shards, shards[1:]))
    for start, stop in shards:
        seconds = sum(costs[start:stop])
        assert stop - start <= SHARD_MAX_CLIPS
        assert seconds - costs[stop - 1] < SHARD_SECONDS  # it closed at its last clip
    for start, stop in shards[:-1]:
        assert sum(costs[start:stop]) >= SHARD_SECONDS or stop - start == SHARD_MAX_CLIPS


def test_clip_seconds_from_sizes_and_for_unextracted_members(tmp_path):
    (tmp_path / "two.wav").write_bytes(bytes(2 * 176400))
    clips = pd.DataFrame({"relpath": [str(tmp_path / "two.wav"), str(tmp_path / "absent.wav")]})
    assert clip_seconds(clips, None) == [2.0, UNEXTRACTED_CLIP_SECONDS]
    assert clip_seconds(clips, 4.0) == [4.0, 4.0]  # a fixed length needs no file at all


def test_plan_of_an_extract_first_split_before_its_audio_exists(tmp_path):
    """The members of an `extract_first` archive are not on disk when the splits are made: a clip
    of its own length then counts UNEXTRACTED_CLIP_SECONDS (10 s), so 30 clips per shard."""
    assert UNEXTRACTED_CLIP_SECONDS == 10.0
    stems = [f"{i:03d}" for i in range(70)]
    rows = pd.DataFrame(
        {
            "relpath": [str(tmp_path / "lazy" / f"{s}.wav") for s in stems],
            "label": "x",
            "split": "train",
            "unique_filestem": stems,
        }
    )
    folder = tmp_path / "splits"
    write_plan(folder, rows, ["train", "valid"], None)
    assert read_shard_counts(folder) == {"train": 3, "valid": 0}
    shards = [list(read_shard(folder, "train", i)["unique_filestem"]) for i in range(3)]
    assert shards == [stems[:30], stems[30:60], stems[60:]]


def test_an_audio_shard_reads_only_its_own_clips(tmp_path, monkeypatch):
    """Clips of their own length (no sample_duration), planned 3 to a shard when the splits are
    made. With the split's rows, the other shards' lists and the other clips' files gone, one
    shard still writes exactly its clips and looks at no other file; the bundle counts the shards
    from the plan alone."""
    monkeypatch.setattr(shards, "SHARD_MAX_CLIPS", 3)
    url = "https://corpora.test/tones/tones-v1.zip"
    md5 = write_archive(mirror_location(tmp_path / "mirror", url), clips_per_label=4)
    builtin = "https://builtin.hearbench/tones/tones-v1.zip"
    sources = {"sources": {builtin: {"url": url, "md5": md5}}}
    cfg = load_task_config("tones", "full", {"sample_duration": None, "nfolds": 2, **sources})
    bundle = TaskBundle(
        config=cfg.to_dict(),
        sample_rates=[16000],
        tasks_dir=str(tmp_path / "tasks"),
        work_dir=str(tmp_path / "work"),
    )
    with MirrorServer(tmp_path / "mirror") as server:
        splits = bundle.split_step().clone(mirror=server.url)
        assert luigi.build([splits], local_scheduler=True, workers=1, log_level="WARNING")
    split_dir = Path(splits.output().path)
    assert read_shard_counts(split_dir) == {"fold00": 4, "fold01": 4}  # 10 clips = 3 + 3 + 3 + 1
    (split_dir / "rows.csv").unlink()
    assert {split: len(s) for split, s in bundle.audio_shards().items()} == read_shard_counts(
        split_dir
    )
    mine = read_shard(split_dir, "fold01", 1)
    assert len(mine) == 3
    for csv in (split_dir / "shards").rglob("*.csv"):
        if csv.relative_to(split_dir).as_posix() != "shards/fold01/shard-0001.csv":
            csv.unlink()
    audio = Path(mine["relpath"].iloc[0]).parent
    for wav in audio.glob("*.wav"):
        if str(wav) not in set(mine["relpath"]):
            wav.unlink()
    looked_at = []
    stat = os.stat

    def recording_stat(path, *args, **kwargs):
        looked_at.append(os.fspath(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", recording_stat)
    shard = bundle.audio_shard("fold01", 1)
    assert luigi.build([shard], local_scheduler=True, workers=1, log_level="WARNING")
    monkeypatch.setattr(os, "stat", stat)
    report = json.loads((Path(shard.output().path) / "report.json").read_text())
    assert sorted(report["clips"]) == sorted(mine["unique_filestem"])
    assert report["undecodable"] == {}
    assert {p for p in looked_at if p.startswith(str(audio))} <= set(mine["relpath"])


def _graph(root: luigi.Task) -> dict[str, set[str]]:
    """{step family: Luigi task ids} of the graph under `root`, with the first audio shard of
    each bundle (shards are dynamic dependencies: a bundle asks for them once its splits exist)."""
    ids: dict[str, set[str]] = {}
    todo = [root]
    while todo:
        step = todo.pop()
        ids.setdefault(step.task_family, set()).add(step.task_id)
        todo += luigi.task.flatten(step.requires())
        if step.task_family == "TaskBundle":
            todo.append(step.audio_shard(step.task_config.splits[0], 0))
    return ids


def _run(configs, rates=(16000,), **settings) -> AllTasks:
    run = {"work_dir": "/w", "tasks_dir": "/t", "tar_dir": "/tar", "resampler": "soxr"}
    run.update(settings)
    return AllTasks(configs=[c.to_dict() for c in configs], sample_rates=list(rates), **run)


@pytest.mark.parametrize("task,mode", [("tones", "full"), ("nsynth_pitch", "5h")])
def test_run_settings_key_only_the_steps_they_shape(task, mode):
    cfg = load_task_config(task, mode)
    before = _graph(_run([cfg]))
    families = {"DownloadedFile", "SourceFolder", "CorpusMetadata", "SplitMetadata", "AudioShard"}
    families |= {"TaskBundle", "TaskTarball", "AllTasks"}
    families |= {"KeptAudio"} if task == "nsynth_pitch" else set()
    assert set(before) == families
    audio = {"AudioShard", "TaskBundle", "TaskTarball", "AllTasks"}
    shaped_by = {
        "sample_rates": ({"sample_rates": [16000, 48000]}, audio),
        "resampler": ({"resampler": "resampy"}, audio),
        "tar_dir": ({"tar_dir": "/other-tar"}, {"TaskTarball", "AllTasks"}),
        "tasks_dir": ({"tasks_dir": "/other-tasks"}, {"TaskBundle", "AllTasks"}),
        "mirrors": ({"mirror": "http://a", "builtin_mirror": "http://b"}, set()),
        "work_dir": ({"work_dir": "/other-work"}, families - {"TaskBundle", "TaskTarball"}),
    }
    for setting, (change, expected) in shaped_by.items():
        rates = change.pop("sample_rates", [16000])
        after = _graph(_run([cfg], rates=rates, **change))
        changed = {family for family in before if before[family] != after[family]}
        assert changed == expected, setting


def test_modes_share_the_steps_whose_inputs_they_share():
    """speech_commands 5h and full differ in their caps only: one download per archive, one
    source folder each, one corpus step (its folder names no mode), two split steps."""
    five, full = load_task_config("speech_commands", "5h"), load_task_config(
        "speech_commands", "full"
    )
    both, alone = _graph(_run([five, full])), _graph(_run([five]))
    for family in ("DownloadedFile", "SourceFolder", "CorpusMetadata"):
        assert both[family] == alone[family], family
    assert len(both["CorpusMetadata"]) == 1
    assert len(both["SplitMetadata"]) == 2 and len(both["TaskBundle"]) == 2
    corpus = _run([five]).steps_per_config()[0][0].requires().split_step().requires()
    assert corpus.output().path.startswith("/w/corpus/speech_commands-")
    assert "5h" not in corpus.output().path
    # tones small and full share the archive, not the corpus step (small drops absent files).
    small, tones = load_task_config("tones", "small"), load_task_config("tones", "full")
    graph = _graph(_run([small, tones]))
    assert len(graph["DownloadedFile"]) == len(graph["SourceFolder"]) == 1
    assert len(graph["CorpusMetadata"]) == 2


def test_a_view_is_what_its_identity_digests():
    cfg = load_task_config("speech_commands", "5h")
    corpus = view_config(config_view(cfg, CORPUS_FIELDS))
    split = view_config(config_view(cfg, SPLIT_FIELDS))
    assert metadata_identity(corpus) == metadata_identity(cfg)
    assert split_identity(split) == split_identity(cfg)
    assert audio_identity(split, RATES, "soxr") == audio_identity(cfg, RATES, "soxr")
    assert corpus.mode == "" and corpus.max_task_duration_by_split is None  # not in the view
    small = load_task_config("speech_commands", "small")
    assert view_config(config_view(small, CORPUS_FIELDS)).is_small


def test_rows_round_trip_keeps_names_as_strings(tmp_path):
    df = pd.DataFrame(
        {
            "relpath": ["/a/001.wav", "/a/002.wav"],
            "label": ["7", "yes"],
            "unique_filestem": ["001", "002"],
            "split": ["train", "test"],
            "source_start": [0, float("nan")],
        }
    )
    write_rows(tmp_path / "rows.csv", df)
    back = read_rows(tmp_path / "rows.csv")
    assert list(back["unique_filestem"]) == ["001", "002"]
    assert list(back["label"]) == ["7", "yes"]
    assert back["source_start"].iloc[0] == 0 and pd.isna(back["source_start"].iloc[1])
