"""The prediction runner's messages: wrong folders are refused before anything is written,
progress goes to stderr, each result line names model, task, metric and score, and a second
setting is kept beside the first instead of replacing it."""

import json
import subprocess
import sys

import pytest
from embedding_models.tasks import scene_task

from hearcore.cli import NOT_FOUND, OK, run_command
from heareval.predictions.runner import main


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def predict(capsys, *args):
    code = run_command(main, [*map(str, args), "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def task(tmp_path):
    path = tmp_path / "embeddings" / "my.model" / "synthetic-v1-small"
    scene_task(path, "new_split_kfold", n=120, noise=1.0)
    return path


def test_bundle_folder_is_refused_before_writing(tmp_path, capsys):
    bundle = tmp_path / "tasks" / "tones-v1-small"
    (bundle / "16000" / "train").mkdir(parents=True)
    (bundle / "task_metadata.json").write_text("{}")
    before = tree(tmp_path)
    code, out, err = predict(capsys, bundle)
    assert code == NOT_FOUND and out == ""
    assert "is a task bundle (audio), not an embedding folder" in err
    assert f"--tasks-dir {bundle.parent} --task tones-v1-small" in err
    assert "EMBEDDINGS_DIR/<model>/tones-v1-small" in err and "Traceback" not in err
    assert tree(tmp_path) == before  # no prediction.log, nothing
    code, _, err = predict(capsys, bundle.parent)
    assert code == NOT_FOUND and "holds 1 task bundle(s)" in err and "--task all" in err


def test_folders_holding_nothing_usable(tmp_path, task, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = predict(capsys, tmp_path / "empty")
    assert code == NOT_FOUND and "not an embedding folder" in err
    assert "EMBEDDINGS_DIR/<model>/<bundle>" in err
    code, _, err = predict(capsys, tmp_path / "missing")
    assert code == NOT_FOUND and "no such folder" in err
    code, _, err = predict(capsys, task.parent)  # one level too high: the model's folder
    assert code == NOT_FOUND and f"pass them: {task.parent}/*" in err
    # every folder is checked before any is predicted
    before = tree(task)
    code, _, err = predict(capsys, task, tmp_path / "empty")
    assert code == NOT_FOUND and tree(task) == before


def test_progress_result_line_and_settings_kept_apart(task, capsys):
    code, out, err = predict(capsys, task, "--probe", "knn")
    assert code == OK
    assert "seed 42 (1 of 1): training 4 configs on fold 1 of 4, then the best on 3 more" in err
    assert "my.model / synthetic-v1-small: seed 42: test top1_acc" in err
    line = next(x for x in out.splitlines() if "top1_acc" in x)
    assert line.strip().startswith("my.model / synthetic-v1-small: top1_acc 0.")
    assert line.endswith("(4 folds)")
    assert f"{task.resolve()}: test.predicted-scores.json" in out
    assert f"python -m heareval.leaderboard {task.parent.parent.resolve()}" in out
    first = (task / "test.predicted-scores.json").read_text()

    code, out, err = predict(capsys, task, "--probe", "knn", "--seeds", "2", "--quiet")
    assert code == OK and err == ""  # --quiet: no progress
    other = task / "predictions-knn-default-8pts-seeds42-43"
    assert (task / "test.predicted-scores.json").read_text() == first  # not replaced
    done = json.loads((other / "prediction-done.json").read_text())
    assert done["settings"]["seeds"] == 2 and (other / "prediction.log").is_file()
    assert sorted(p.name for p in other.glob("*.predictions.pkl")) == [
        f"fold{i:02d}.predictions.pkl" for i in range(4)
    ]
    assert "(2 seeds)" in out and str(other.resolve()) in out

    code, out, _ = predict(capsys, task, "--probe", "knn")
    assert (
        code == OK and "already predicted with knn probe, grid default (8 points), seed 42" in out
    )
    assert "pass --force" in out and (task / "test.predicted-scores.json").read_text() == first


def test_help_and_usage_error():
    run = subprocess.run(
        [sys.executable, "-m", "heareval.predictions.runner", "--help"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and run.stdout.startswith("usage: python -m heareval.predictions")
    help_text = " ".join(run.stdout.split())
    expected = ["(default: default)", "(default: 8)", "(default: 42)", "(default: mlp)"]
    expected += ["--force", "--quiet", "--verbose", "one or more", "exit codes: 0 done"]
    for text in expected:
        assert text in help_text, text
    run = subprocess.run(
        [sys.executable, "-m", "heareval.predictions.runner", "x", "--seeds", "0"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "--seeds must be at least 1" in run.stderr
