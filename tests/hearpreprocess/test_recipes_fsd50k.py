"""fsd50k recipe on its fake corpus (full: split zips, small: plain zips), its error paths, the real
small zips, and end-to-end builds through the runner that check clips keep their own length
(sample_duration None) and that the twelve over-long dev clips are reported as dropped."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
from fakes import make_fake_corpus, mirror_location
from fakes.fsd50k import DEV_TRAIN, DEV_VAL, EVAL, SR
from shared_corpora import CORPORA

from hearcore.archive import extract_archive
from hearcore.format import SAMPLE_RATES
from hearpreprocess import runner
from hearpreprocess.config import load_task_config, read_card
from hearpreprocess.mirror import MirrorServer
from hearpreprocess.multipart import extract_multipart_zip
from hearpreprocess.recipes.fsd50k import OVERLONG, OVERLONG_REASON, extract_metadata, split_labels

TASK = "fsd50k"
TRUTH = "FSD50K.ground_truth"
DEV_HEADER = "fname,labels,mids,split\n"
EVAL_CSV = 'fname,labels,mids\n1,"Dog,Animal","/m/a,/m/b"\n'
VOCABULARY = "0,Animal,/m/b\n1,Dog,/m/a\n2,Engine,/m/c\n"


def _extract(config, mirror_root: Path, dest: Path) -> dict[str, Path]:
    """Unpack every source as the pipeline does: split zips re-joined, plain zips extracted."""
    folders = {}
    for source in config.sources:
        folder = dest / source.key
        if source.kind == "multipart_zip":
            extract_multipart_zip(
                [mirror_location(mirror_root, p.url) for p in source.parts], folder
            )
        else:
            extract_archive(mirror_location(mirror_root, source.url), folder)
        folders[source.key] = folder
    return folders


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus = make_fake_corpus(root / "mirror", config)
    df = extract_metadata(_extract(config, root / "mirror", root / "x"), config)
    return config, corpus, df


def test_fake_parts_are_pinned_and_laid_out_as_the_real_ones(fake):
    config, corpus, df = fake
    urls = [r.url for s in config.sources for r in s.remotes]
    assert set(corpus.md5) == set(urls)
    if not config.is_small:
        assert [len(s.parts) for s in config.sources] == [6, 2, 0]
    folders = {Path(p).parent.name for p in df["relpath"]}
    assert folders == {"FSD50K.dev_audio", "FSD50K.eval_audio"}


def test_fake_rows_splits_labels_and_dropped_clips(fake):
    config, corpus, df = fake
    assert list(df.columns) == ["relpath", "label", "split", "unique_filestem", "drop_reason"]
    # One row per (clip, label); every clip of both CSVs, present or not.
    listed = {**DEV_TRAIN, **DEV_VAL, **EVAL}
    rows_per_clip = df.groupby("unique_filestem").size()
    for fname, (cell, _) in listed.items():
        assert rows_per_clip[fname] == len(cell.split(","))
    assert set(df["unique_filestem"]) == set(listed) | set(OVERLONG)
    dropped = df[df["drop_reason"] != ""]
    assert set(dropped["drop_reason"]) == {OVERLONG_REASON}
    assert set(dropped["unique_filestem"]) == set(OVERLONG)
    per_split = dropped.drop_duplicates("unique_filestem")["split"].value_counts().to_dict()
    assert per_split == {"train": 11, "valid": 1}
    kept = df[(df["drop_reason"] == "") & df["relpath"].map(lambda p: Path(p).is_file())]
    clips = kept.drop_duplicates("unique_filestem")
    assert clips["split"].value_counts().to_dict() == corpus.split_counts
    assert set(kept["label"]) == corpus.labels
    for spot in corpus.spot_checks:
        rows = kept[kept["unique_filestem"] == spot.stem]
        assert set(rows["split"]) == {spot.split}
        assert sorted(rows["label"]) == sorted(spot.labels)
        assert Path(rows["relpath"].iloc[0]).is_absolute()
        assert Path(rows["relpath"].iloc[0]).name == f"{spot.stem}.wav"


def test_split_labels():
    assert split_labels("Bark,Dog,Animal") == ["Bark", "Dog", "Animal"]
    assert split_labels("Music") == ["Music"]


def _ground_truth(tmp_path: Path, dev: str, eval_: str = EVAL_CSV, vocabulary: str = VOCABULARY):
    truth = tmp_path / "ground_truth" / TRUTH
    truth.mkdir(parents=True)
    for name, text in (("dev.csv", dev), ("eval.csv", eval_), ("vocabulary.csv", vocabulary)):
        if text is not None:
            (truth / name).write_text(text)
    return {key: tmp_path / key for key in ("train", "test", "ground_truth")}


def _dev(extra: str = "", skip: str | None = None) -> str:
    """A dev.csv holding the twelve over-long clips (but `skip`) plus `extra` lines."""
    lines = [f'{f},"Engine","/m/c",train\n' for f in OVERLONG if f != skip]
    return DEV_HEADER + "".join(lines) + extra


def test_minimal_csvs_give_the_rows(tmp_path):
    config = load_task_config(TASK, "full")
    sources = _ground_truth(tmp_path, _dev('7,"Dog,Animal","/m/a,/m/b",val\n'))
    df = extract_metadata(sources, config)
    seven = df[df["unique_filestem"] == "7"]
    assert sorted(seven["label"]) == ["Animal", "Dog"] and set(seven["split"]) == {"valid"}
    assert seven["relpath"].iloc[0] == str(tmp_path / "train" / "FSD50K.dev_audio" / "7.wav")
    one = df[df["unique_filestem"] == "1"]
    assert set(one["split"]) == {"test"}
    assert one["relpath"].iloc[0] == str(tmp_path / "test" / "FSD50K.eval_audio" / "1.wav")
    assert (df["drop_reason"] != "").sum() == 12


@pytest.mark.parametrize("missing", ["dev.csv", "eval.csv", "vocabulary.csv"])
def test_missing_ground_truth_file_is_a_clear_error(tmp_path, missing):
    config = load_task_config(TASK, "full")
    texts = {"dev": _dev(), "eval_": EVAL_CSV, "vocabulary": VOCABULARY}
    texts[{"dev.csv": "dev", "eval.csv": "eval_", "vocabulary.csv": "vocabulary"}[missing]] = None
    sources = _ground_truth(tmp_path, **texts)
    with pytest.raises(FileNotFoundError, match=rf"fsd50k.*{TRUTH}/{missing}.*missing"):
        extract_metadata(sources, config)


def test_an_absent_overlong_clip_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    sources = _ground_truth(tmp_path, _dev(skip="124858"))
    with pytest.raises(
        ValueError, match=r"fsd50k.*dev\.csv lacks the over-long clips \['124858'\]"
    ):
        extract_metadata(sources, config)


@pytest.mark.parametrize(
    "dev, eval_, vocabulary, why",
    [
        (_dev('7,"Dog","/m/a",test\n'), EVAL_CSV, VOCABULARY, r"dev\.csv has split 'test'"),
        (_dev().replace(",split", ",part"), EVAL_CSV, VOCABULARY, r"dev\.csv lacks.*'split'"),
        (_dev(), "fname,mids\n1,/m/a\n", VOCABULARY, r"eval\.csv lacks.*'labels'"),
        (_dev('7,"Dog,,Animal","/m/a",val\n'), EVAL_CSV, VOCABULARY, r"dev\.csv row 14.*empty"),
        (_dev(), EVAL_CSV + '1,"Dog","/m/a"\n', VOCABULARY, r"eval\.csv lists clip '1' twice"),
        (_dev('7,"Cat","/m/z",val\n'), EVAL_CSV, VOCABULARY, r"missing from vocabulary.*Cat"),
        (_dev(), EVAL_CSV, "Animal,/m/b\n", r"vocabulary\.csv must have three columns"),
    ],
)
def test_bad_csvs_are_clear_errors(tmp_path, dev, eval_, vocabulary, why):
    config = load_task_config(TASK, "full")
    sources = _ground_truth(tmp_path, dev, eval_, vocabulary)
    with pytest.raises(ValueError, match=rf"fsd50k.*{why}"):
        extract_metadata(sources, config)


def _real_small():
    config = load_task_config(TASK, "small")
    for source in config.sources:
        archive = mirror_location(CORPORA, source.url)
        if not archive.is_file():
            pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    return config


def test_real_small_rows(tmp_path):
    config = _real_small()
    folders = {}
    for source in config.sources:
        extract_archive(mirror_location(CORPORA, source.url), tmp_path / source.key)
        folders[source.key] = tmp_path / source.key
    df = extract_metadata(folders, config)
    clips = df.drop_duplicates("unique_filestem")
    # The CSVs are whole: 36,796 train + 4,170 val dev clips, 10,231 eval clips, 200 classes.
    assert clips["split"].value_counts().to_dict() == {"train": 36796, "test": 10231, "valid": 4170}
    assert len(df) == 114271 + 38596 and df["label"].nunique() == 200
    dropped = clips[clips["drop_reason"] != ""]
    assert sorted(dropped["unique_filestem"]) == sorted(OVERLONG)
    assert dropped["split"].value_counts().to_dict() == {"train": 11, "valid": 1}
    kept = clips[(clips["drop_reason"] == "") & clips["relpath"].map(lambda p: Path(p).is_file())]
    assert kept["split"].value_counts().to_dict() == read_card(TASK)["small_clips"]
    guitar = df[df["unique_filestem"] == "64760"]
    assert set(guitar["split"]) == {"train"} and sorted(guitar["label"]) == sorted(
        ["Electric_guitar", "Guitar", "Plucked_string_instrument", "Musical_instrument", "Music"]
    )


def _build(tmp: Path, mode: str, mirror_url: str, overrides: str = "") -> Path:
    argv = [TASK, f"--mode={mode}", f"--mirror={mirror_url}", "--workers=1", "--no-tarballs"]
    argv += [f"--work-dir={tmp / 'work'}", f"--tasks-dir={tmp / 'tasks'}", f"--tar-dir={tmp}/tar"]
    tmp.mkdir(parents=True, exist_ok=True)
    if overrides:
        (tmp / "overrides.toml").write_text(overrides)
        argv.append(f"--config-overrides={tmp / 'overrides.toml'}")
    report = runner.build(runner.parse_args(argv))
    assert report.ok, f"{TASK} {mode}: {report.failures}"
    return tmp / "tasks" / load_task_config(TASK, mode).bundle_name


def _check_bundle(bundle: Path, native_frames: dict[str, int], counts: dict[str, int]) -> None:
    """Clips keep their own length at every rate; the twelve over-long clips are reported."""
    meta = json.loads((bundle / "task_metadata.json").read_text())
    assert meta["sample_duration"] is None
    assert all(cap is None for cap in meta["max_task_duration_by_split"].values())
    labels = {s: json.loads((bundle / f"{s}.json").read_text()) for s in ("train", "valid", "test")}
    assert {s: len(v) for s, v in labels.items()} == counts
    for sr in SAMPLE_RATES:
        for split, names in labels.items():
            for name in names:
                info = sf.info(bundle / str(sr) / split / name)
                assert (info.channels, info.subtype, info.samplerate) == (1, "PCM_16", sr)
                assert info.frames == round(native_frames[name[:-4]] * sr / SR), (sr, name)
    report = json.loads((bundle / "report.json").read_text())
    assert report["trimmed"] == [] and report["padded"] == []
    by_rule = [r for r in report["metadata"] if r["reason"] == OVERLONG_REASON]
    assert {r["unique_filestem"] for r in by_rule} == set(OVERLONG)
    assert all(r["action"] == "dropped" for r in by_rule)
    per_split = {r["unique_filestem"]: r["split"] for r in by_rule}
    assert sorted(per_split.values()) == ["train"] * 11 + ["valid"]
    assert not set(OVERLONG) & {name[:-4] for names in labels.values() for name in names}


def test_fake_full_build_keeps_native_lengths(tmp_path):
    config = load_task_config(TASK, "full")
    corpus = make_fake_corpus(tmp_path / "mirror", config)
    with MirrorServer(tmp_path / "mirror") as mirror:
        bundle = _build(tmp_path / "build", "full", mirror.url, corpus.overrides_toml(TASK))
    native = {f: round(s * SR) for f, (_, s) in {**DEV_TRAIN, **DEV_VAL, **EVAL}.items()}
    assert len(set(native.values())) == len(native), "the fake's clips should differ in length"
    _check_bundle(bundle, native, corpus.split_counts)


def test_real_small_build(tmp_path):
    config = _real_small()
    native = {}
    for source in config.sources[:2]:
        with zipfile.ZipFile(mirror_location(CORPORA, source.url)) as zf:
            for member in zf.namelist():
                if member.endswith(".wav"):
                    info = sf.info(io.BytesIO(zf.read(member)))
                    assert (info.samplerate, info.channels) == (SR, 1)
                    native[Path(member).stem] = info.frames
    assert len(set(native.values())) > 1, "the real small clips differ in length"
    with MirrorServer(CORPORA) as mirror:
        bundle = _build(tmp_path, "small", mirror.url)
    _check_bundle(bundle, native, read_card(TASK)["small_clips"])
    vocabulary = pd.read_csv(bundle / "labelvocabulary.csv", dtype=str)
    assert 0 < len(vocabulary) <= 200
