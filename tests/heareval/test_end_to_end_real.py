"""Embeddings -> predictions on the real HEAR 2021 spoken_digit bundle, with the naive model.

That bundle's audio is nearly silent: its samples peak at 3 LSB (the small source zip at 1 LSB,
a defect of HEAR 2021's TFDS export), so only coarse cues survive; with 60 training clips for 10
classes, both the HEAR MLP protocol and the kNN probe must still score well above chance (0.1).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from embedding_models.bundles import SPOKEN_DIGIT, extract_spoken_digit

TASK = "spoken_digit-1.0.9-small"
CHANCE = 0.1


def _run(*args):
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    root = tmp_path_factory.mktemp("spoken_digit")
    bundle = extract_spoken_digit(root / "tasks")
    if bundle is None:
        pytest.skip(f"real HEAR 2021 bundle missing: {SPOKEN_DIGIT}")
    embeddings = root / "embeddings"
    _run("heareval.embeddings.runner", "heareval.models.naive", "--tasks-dir", str(bundle.parent),
         "--task", TASK, "--embeddings-dir", str(embeddings))  # fmt: skip
    return embeddings / "heareval.models.naive" / TASK


def _mean_test_score(task: Path, *args) -> float:
    (task / "prediction-done.json").unlink(missing_ok=True)
    _run("heareval.predictions.runner", str(task), *args)
    scores = json.loads((task / "test.predicted-scores.json").read_text())
    assert sorted(k for k in scores if k.startswith("fold")) == [f"fold{i:02d}" for i in range(5)]
    return scores["aggregated_scores"]["test_top1_acc_mean"]


def test_knn_probe_scores_well_above_chance(embedded):
    assert _mean_test_score(embedded, "--probe", "knn") >= 2.5 * CHANCE


def test_mlp_protocol_scores_well_above_chance(embedded):
    assert _mean_test_score(embedded, "--grid", "default") >= 2.5 * CHANCE
