"""The evaluation stage accepts every registered task: small bundle -> embeddings -> scores.

Each task's small bundle is built from its real small archives where ../shared/corpora has them,
else from its fake corpus; then the naive model embeds them all and the prediction stage scores
each one. The scores file must carry every metric the task declares, for every test fold, and
numeric labels must keep HEAR's numeric vocabulary order.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import make_fake_corpus

from hearpreprocess.builtin import is_builtin
from hearpreprocess.config import list_modes, list_tasks, load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO.parent / "shared" / "corpora"
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


@pytest.mark.parametrize("config", CONFIGS, ids=[c.task_name for c in CONFIGS])
def test_every_declared_metric_is_scored(embeddings, config):
    task = embeddings / config.bundle_name
    _run("heareval.predictions.runner", str(task), "--grid", "faster", "--grid-points", "1")
    scores = json.loads((task / "test.predicted-scores.json").read_text())
    if config.split_mode == "trainvaltest":
        folds = [scores["test"]]
    else:
        folds = [scores[f] for f in config.splits]
    for fold in folds:
        for metric in config.evaluation:
            assert any(
                k == f"test_{metric}" or k.startswith(f"test_{metric}_") for k in fold
            ), f"{config.bundle_name}: no test_{metric} in {sorted(fold)}"


@pytest.mark.parametrize("config", CONFIGS, ids=[c.task_name for c in CONFIGS])
def test_numeric_labels_keep_numeric_order(embeddings, config):
    with open(embeddings / config.bundle_name / "labelvocabulary.csv", newline="") as f:
        labels = [row["label"] for row in csv.DictReader(f)]
    if all(label.lstrip("-").isdigit() for label in labels):
        assert labels == sorted(labels, key=int)
    else:
        assert labels == sorted(labels)
