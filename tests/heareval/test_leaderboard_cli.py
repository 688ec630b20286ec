"""The leaderboard command: what it says when it finds nothing, the setting of every row, the
counting words, and the closing lines naming the files it wrote."""

import csv
import json
import subprocess
import sys

from test_leaderboard import write_result

from hearcore.cli import NOT_FOUND, OK, USAGE, run_command
from heareval.leaderboard.__main__ import main

SETTING = {"grid": "default", "grid_points": 8, "seed": 42, "seeds": 1, "probe": "mlp"}


def board(capsys, *args):
    code = run_command(main, [*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def with_setting(folder, **changes):
    (folder / "prediction-done.json").write_text(json.dumps({"settings": {**SETTING, **changes}}))
    return folder


def test_nothing_found_names_the_folder_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = board(capsys, tmp_path / "empty", "--out", tmp_path / "site")
    assert code == NOT_FOUND and out == ""
    assert f"{tmp_path / 'empty'}: no results found" in err
    assert "expected <model>/<task>/test.predicted-scores.json" in err
    assert "heareval.predictions.runner" in err and not (tmp_path / "site").exists()
    task = write_result(tmp_path / "res", "m", "esc50-v2.0.0-full", [0.5])
    code, _, err = board(capsys, task, "--out", tmp_path / "site")
    assert code == NOT_FOUND and f"two levels above it ({tmp_path / 'res'})" in err
    code, _, err = board(capsys, tmp_path, "--out", tmp_path / "site")
    assert code == NOT_FOUND and f"one level deeper: pass {tmp_path / 'res'}" in err
    (tmp_path / "file").write_text("")
    code, _, err = board(capsys, tmp_path / "res", "--out", tmp_path / "file")
    assert code == USAGE and "is a file, not a folder" in err


def test_two_settings_are_two_rows_with_their_setting(tmp_path, capsys):
    task = with_setting(write_result(tmp_path, "m", "esc50-v2.0.0-full", [0.5, 0.7]))
    other = task / "predictions-linear-default-8pts-seeds42-44"
    other.mkdir()
    (other / "test.predicted-scores.json").write_text(
        (task / "test.predicted-scores.json").read_text().replace("0.5", "0.4")
    )
    with_setting(other, probe="linear", seeds=3)
    code, out, err = board(capsys, tmp_path, "--out", tmp_path / "site", "--no-published")
    assert code == OK and err == ""
    assert "2 results: 1 model × 1 task bundle, in 2 rows" in out
    for name in ("leaderboard.csv", "leaderboard.md", "index.html"):
        assert f"  {(tmp_path / 'site' / name).resolve()}" in out.splitlines()
    with open(tmp_path / "site" / "leaderboard.csv", newline="") as f:
        rows = [(r["model"], r["probe"], r["grid"], r["grid_points"], r["seeds"])
                for r in csv.DictReader(f)]  # fmt: skip
    assert sorted(rows) == [
        ("m", "linear", "default", "8", "42-44"),
        ("m", "mlp", "default", "8", "42"),
    ]
    md = (tmp_path / "site" / "leaderboard.md").read_text()
    assert "| m | this run | mlp probe, grid default (8 points), seed 42 |" in md
    assert "| m | this run | linear probe, grid default (8 points), seeds 42-44 |" in md
    page = (tmp_path / "site" / "index.html").read_text()
    assert "seeds 42-44" in page and "1 model × 1 task bundle" in page
    assert "1 models" not in page and "1 task bundles" not in page


def test_singular_counts_in_the_page_and_the_output(tmp_path, capsys):
    write_result(tmp_path, "m", "esc50-v2.0.0-full", [0.5])
    code, out, _ = board(capsys, tmp_path, "--out", tmp_path / "site")
    assert code == OK and "leaderboard of 1 result: 1 model × 1 task bundle, read from" in out
    page = (tmp_path / "site" / "index.html").read_text()
    assert "1 result: 1 model × 1 task bundle." in page and "(0/1 task)" in page


def test_help():
    run = subprocess.run(
        [sys.executable, "-m", "heareval.leaderboard", "--help"], capture_output=True, text=True
    )
    text = " ".join(run.stdout.split())
    assert run.returncode == 0 and text.startswith("usage: python -m heareval.leaderboard")
    for part in ("RESULTS_DIR [RESULTS_DIR ...]", "one or more", "--out DIR", "--no-published",
                 "(default: True)", "--verbose", "exit codes: 0 done"):  # fmt: skip
        assert part in text, part
