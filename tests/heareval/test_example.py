"""The one command for the whole evaluation, on the small mode of the built-in example."""

import csv
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_example_runs_every_stage_and_ranks_both_models(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "heareval.example", "--out", str(out), "--mode", "small"]
    done = subprocess.run(
        command + ["--grid", "default"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    assert len(list((out / "tarballs").glob("hear-*-tones-v1-small-*.tar.gz"))) == 5
    for model in ("heareval.models.naive", "heareval.models.crepe"):
        task = out / "embeddings" / model / "tones-v1-small"
        assert (task / "test.predicted-scores.json").is_file(), model
    with open(out / "leaderboard" / "leaderboard.csv", newline="") as f:
        rows = {row["model"]: row for row in csv.DictReader(f) if row["source"] == "this run"}
    assert set(rows) == {"heareval.models.naive", "heareval.models.crepe"}
    for model, row in rows.items():
        # Five pitch classes: chance is 0.2; both models must be far above it.
        assert float(row["tones-v1-small"]) > 0.5, (model, row)
    page = (out / "leaderboard" / "index.html").read_text()
    assert "heareval.models.crepe" in page and "<svg" in page
