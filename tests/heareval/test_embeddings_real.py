"""The embedding runner on the real HEAR 2021 spoken_digit bundle with the built-in models."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from embedding_models.bundles import SPOKEN_DIGIT, extract_spoken_digit, subset_bundle  # noqa

from heareval.embeddings.output import read_embeddings
from heareval.embeddings.runner import run

NAIVE = "heareval.models.naive"
TASK = "spoken_digit-1.0.9-small"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    bundle = extract_spoken_digit(root)
    if bundle is None:
        pytest.skip(f"real HEAR 2021 bundle missing: {SPOKEN_DIGIT}")
    return bundle.parent


def _check_against_bundle(out, bundle, dim):
    meta = json.loads((bundle / "task_metadata.json").read_text())
    for split in meta["splits"]:
        labels = json.loads((bundle / f"{split}.json").read_text())
        emb = read_embeddings(out, split)
        targets = pickle.loads((out / f"{split}.target-labels.pkl").read_bytes())
        assert emb.shape == (len(labels), dim)
        assert np.isfinite(emb).all() and np.abs(emb).sum(axis=1).min() > 0
        assert sorted(map(str, targets)) == sorted(map(str, labels.values()))
        assert (out / f"{split}.json").read_bytes() == (bundle / f"{split}.json").read_bytes()
    for name in ["task_metadata.json", "labelvocabulary.csv"]:
        assert (out / name).read_bytes() == (bundle / name).read_bytes()


def test_naive_at_the_bundle_rate_via_the_cli(tasks, tmp_path):
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "heareval.embeddings.runner", NAIVE, "--tasks-dir", str(tasks)]
    cmd += ["--task", "all", "--embeddings-dir", str(tmp_path), "--device", "cpu"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / NAIVE / TASK
    _check_against_bundle(out, tasks / TASK, 512)
    profile = json.loads((out / "profile.embeddings.json").read_text())
    assert profile["resampled_from"] is None and profile["sample_rate"] == 44100
    assert profile["clips"] == 100 and profile["batch_sizes"][-1] > 1
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "already done" in again.stderr


def test_naive_at_16k_resamples_and_is_deterministic(tasks, tmp_path):
    runs = [
        run(NAIVE, tasks, tmp_path / f"r{i}", options={"sample_rate": 16000}, progress=False)[0]
        for i in range(2)
    ]
    out = Path(runs[0]["out_dir"])
    assert out.parent.name == f"{NAIVE}-sample-rate=16000"
    assert runs[0]["profile"]["resampled_from"] == 44100
    assert runs[0]["profile"]["audio_seconds"] == 100.0
    _check_against_bundle(out, tasks / TASK, 512)
    for split in ["fold00", "fold04"]:
        a, b = (Path(r["out_dir"]) / f"{split}.embeddings.npy" for r in runs)
        assert a.read_bytes() == b.read_bytes()


def test_crepe_on_a_subset(tasks, tmp_path):
    subset = subset_bundle(tasks / TASK, tmp_path / "tasks" / TASK, per_split=1)
    [result] = run("heareval.models.crepe", subset.parent, tmp_path / "emb", progress=False)
    assert result["profile"]["resampled_from"] == 44100 and result["profile"]["clips"] == 5
    _check_against_bundle(Path(result["out_dir"]), subset, 2048)
