"""Write small task bundles in the HEAR 2021 bundle format for tests and benchmarks."""

import csv
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import soundfile as sf
from shared_corpora import SHARED


def write_bundle(root, name, metadata, splits, rates):
    """Write `root/name/` with one wav per file and rate.

    Args:
        metadata: task_metadata.json content; `splits` is filled in.
        splits: {split: {filename: (audio_by_rate: {sr: 1-D float array}, labels)}}.
        rates: sample rates to write folders for.

    Returns:
        The bundle path.
    """
    path = Path(root) / name
    path.mkdir(parents=True)
    metadata = dict(metadata, splits=list(splits))
    (path / "task_metadata.json").write_text(json.dumps(metadata, indent=1))
    vocab = set()
    for split, files in splits.items():
        table = {}
        for filename, (audio, labels) in sorted(files.items()):
            table[filename] = labels
            for sr in rates:
                out = path / str(sr) / split / filename
                out.parent.mkdir(parents=True, exist_ok=True)
                sf.write(out, audio[sr], sr, subtype="PCM_16")
            for lab in labels:
                vocab.add(lab["label"] if isinstance(lab, dict) else lab)
        (path / f"{split}.json").write_text(json.dumps(table, indent=1))
    with open(path / "labelvocabulary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["idx", "label"])
        for i, lab in enumerate(sorted(vocab, key=str)):
            w.writerow([i, lab])
    return path


def tone(seconds, sr, freq=440.0, seed=0, level=0.3):
    """A tone plus a little seeded noise."""
    t = np.arange(int(round(seconds * sr))) / sr
    noise = np.random.default_rng(seed).normal(0, 0.02, len(t))
    return (level * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def event_bundle(root, name="toy_events-1.0-full", seconds=3.0, rates=(16000,), n_files=3):
    """An event task: tones with known events per file, splits train/test."""
    splits = {}
    for s, split in enumerate(["train", "test"]):
        files = {}
        for i in range(n_files):
            events = [
                {"label": "beep", "start": 200.0 + 100 * i, "end": 900.0 + 100 * i},
                {"label": "buzz", "start": 500.0, "end": 1500.0},
            ]
            audio = {sr: tone(seconds, sr, 300 + 50 * i, seed=10 * s + i) for sr in rates}
            files[f"{split}_{i}.wav"] = (audio, events)
        splits[split] = files
    meta = {
        "task_name": "toy_events",
        "version": "1.0",
        "embedding_type": "event",
        "prediction_type": "multilabel",
        "split_mode": "trainvaltest",
        "sample_duration": seconds,
        "evaluation": ["event_onset_200ms_fms"],
        "mode": "full",
    }
    return write_bundle(root, name, meta, splits, rates)


SPOKEN_DIGIT = (
    SHARED / "corpora/github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main"
    "/preprocessed/hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz"
)


def extract_spoken_digit(dest):
    """Extract the real HEAR 2021 spoken_digit bundle (44.1 kHz) under `dest`; its path, or None
    when the archive is not there."""
    if not SPOKEN_DIGIT.is_file():
        return None
    with tarfile.open(SPOKEN_DIGIT) as tar:
        tar.extractall(dest, filter="data")
    return Path(dest) / "hear-2021.0.6/tasks/spoken_digit-1.0.9-small"


def subset_bundle(src, dest, per_split):
    """Copy a bundle keeping the first `per_split` files of every split."""
    dest = Path(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.wav"))
    meta = json.loads((dest / "task_metadata.json").read_text())
    for split in meta["splits"]:
        labels = json.loads((dest / f"{split}.json").read_text())
        keep = dict(list(labels.items())[:per_split])
        (dest / f"{split}.json").write_text(json.dumps(keep, indent=1))
        for rate_dir in Path(src).iterdir():
            if rate_dir.is_dir() and rate_dir.name.isdigit():
                for name in keep:
                    shutil.copyfile(rate_dir / split / name, dest / rate_dir.name / split / name)
    return dest
