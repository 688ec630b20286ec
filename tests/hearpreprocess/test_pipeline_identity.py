"""Step identities: which config edits rebuild which steps; shard plans; row files."""

from __future__ import annotations

import dataclasses

import pandas as pd

from hearpreprocess.config import load_task_config
from hearpreprocess.pipeline import DownloadedFile
from hearpreprocess.pipeline.audio import SHARD_SECONDS, plan_shards
from hearpreprocess.pipeline.base import (
    audio_identity,
    bundle_identity,
    metadata_identity,
    read_rows,
    split_identity,
    write_rows,
)
from hearpreprocess.pipeline.download import source_folder

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
    assert plan_shards(clips.iloc[:0], 1.0) == []


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
