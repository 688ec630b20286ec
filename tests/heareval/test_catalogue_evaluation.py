"""The evaluation stage accepts every registered task: small bundle -> embeddings -> scores.

Each task's small bundle is built from its real small archives where ../shared/corpora has them,
else from its fake corpus; then the naive model embeds them all and the prediction stage scores
each one. The scores file must carry every metric the task declares, for every test fold, and
numeric labels must keep HEAR's numeric vocabulary order.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import make_fake_corpus
from shared_corpora import CORPORA

from heareval.leaderboard.published import published_rows
from hearpreprocess.builtin import is_builtin
from hearpreprocess.config import list_modes, list_tasks, load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

REPO = Path(__file__).resolve().parents[2]
MODEL = "heareval.models.naive"
CONFIGS = [load_task_config(t, "small") for t in list_tasks() if "small" in list_modes(t)]


def _is_real(config) -> bool:
    return all(
        is_builtin(r.url) or mirror_location(CORPORA, r.url).is_file()
        for s in config.sources
        for r in s.remotes
    )


def _run(*args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _build(configs, mirror_root: Path, out: Path, overrides: Path | None) -> None:
    if not configs:
        return
    with MirrorServer(mirror_root) as mirror:
        args = ["hearpreprocess.runner", *[c.task_name for c in configs], "--mode", "small"]
        args += ["--mirror", mirror.url, "--no-tarballs", "--sample-rate", "16000"]
        args += [f"--tasks-dir={out / 'tasks'}", f"--work-dir={out / 'work'}"]
        if overrides is not None:
            args.append(f"--config-overrides={overrides}")
        _run(*args)


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("catalogue-eval")
    real = [c for c in CONFIGS if CORPORA.is_dir() and _is_real(c)]
    fake = [c for c in CONFIGS if c not in real]
    _build(real, CORPORA, out, None)
    tables = [make_fake_corpus(out / "mirror", c).overrides_toml(c.task_name) for c in fake]
    (out / "overrides.toml").write_text("".join(tables))
    _build(fake, out / "mirror", out, out / "overrides.toml")
    _run(
        "heareval.embeddings.runner", MODEL, "--tasks-dir", str(out / "tasks"), "--task", "all",
        "--embeddings-dir", str(out / "embeddings"),
    )  # fmt: skip
    return out / "embeddings" / MODEL


def _scores(embeddings: Path, config) -> dict:
    """The task's test.predicted-scores.json, predicting first if it is not there yet."""
    task = embeddings / config.bundle_name
    path = task / "test.predicted-scores.json"
    if not path.is_file():
        _run("heareval.predictions.runner", str(task), "--grid", "faster", "--grid-points", "1")
    return json.loads(path.read_text())


@pytest.mark.parametrize("config", CONFIGS, ids=[c.task_name for c in CONFIGS])
def test_every_declared_metric_is_scored(embeddings, config):
    scores = _scores(embeddings, config)
    tested = ["test"] if config.split_mode == "trainvaltest" else config.splits
    folds = [scores["test"]] if config.split_mode == "trainvaltest" else [scores[f] for f in tested]
    for split, fold in zip(tested, folds):
        for metric in config.evaluation:
            values = [v for k, v in fold.items() if k == f"test_{metric}"]
            assert values, f"{config.bundle_name}: no test_{metric} in {sorted(fold)}"
            value, where = values[0], f"{config.bundle_name} {split}: test_{metric}"
            assert isinstance(value, float), f"{where} = {value!r}"
            if metric == "d_prime":
                # HEAR's d' is the mean over classes of sqrt(2) * ppf(AUC): a class ranked
                # perfectly (AUC 1 or 0, common in the few clips of a small fold) is +-inf, and
                # +inf with -inf is NaN. Its values are checked against the reference elsewhere.
                continue
            if metric == "aucroc" and _lacks_a_class(embeddings, config, split):
                # ROC AUC is undefined (NaN, as in HEAR) for a class absent from the test fold.
                continue
            assert math.isfinite(value), f"{where} = {value}"


def _lacks_a_class(embeddings: Path, config, split: str) -> bool:
    """Whether some label of the vocabulary has no clip in the split (a tiny small-mode fold)."""
    task = embeddings / config.bundle_name
    with open(task / "labelvocabulary.csv", newline="") as f:
        vocabulary = {row["label"] for row in csv.DictReader(f)}
    clips = json.loads((task / f"{split}.json").read_text()).values()
    present = {str(e["label"] if isinstance(e, dict) else e) for clip in clips for e in clip}
    return vocabulary != present


def test_the_leaderboard_has_every_task_beside_the_published_rows(embeddings, tmp_path):
    for config in CONFIGS:
        _scores(embeddings, config)
    _run("heareval.leaderboard", str(embeddings.parent), "--out", str(tmp_path))
    with open(tmp_path / "leaderboard.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    assert {c.bundle_name for c in CONFIGS} <= columns
    ours = [r for r in rows if r["model"] == MODEL]
    assert len(ours) == 1 and all(ours[0][c.bundle_name] != "" for c in CONFIGS)
    assert len([r for r in rows if r["model"] != MODEL]) == len(published_rows())


@pytest.mark.parametrize("config", CONFIGS, ids=[c.task_name for c in CONFIGS])
def test_numeric_labels_keep_numeric_order(embeddings, config):
    with open(embeddings / config.bundle_name / "labelvocabulary.csv", newline="") as f:
        labels = [row["label"] for row in csv.DictReader(f)]
    if all(label.lstrip("-").isdigit() for label in labels):
        assert labels == sorted(labels, key=int)
    else:
        assert labels == sorted(labels)
