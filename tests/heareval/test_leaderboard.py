"""Leaderboard: collection of result folders, the overall score, CSV and Markdown content."""

import csv
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from importlib import resources

import numpy as np
import pytest

from heareval.leaderboard import ResultsError, build_board, collect
from heareval.leaderboard.published import (
    _BEST,
    LEADERBOARD_CSV,
    TASK_COLUMNS,
    published_rows,
    read_leaderboard,
)
from heareval.leaderboard.rank import Board, Cell, Overall, Row, Task, clipped_z, overall_scores
from heareval.leaderboard.render import to_csv, to_html, to_markdown


def write_result(root, model, task, fold_scores, metric="top1_acc", mode=None, seeds=None):
    """Write `root/model/task/` as the prediction stage does (old schema plus seed_spread)."""
    folder = root / model / task
    folder.mkdir(parents=True)
    keys = ["test"] if len(fold_scores) == 1 else [f"fold{i:02d}" for i in range(len(fold_scores))]
    scores = {
        k: {"test_score": s, f"test_{metric}": s, "epoch": 3} for k, s in zip(keys, fold_scores)
    }
    if len(keys) > 1:
        values = np.array(fold_scores)
        scores["aggregated_scores"] = {
            "test_score_mean": float(values.mean()),
            "test_score_std": float(values.std(ddof=1)),
        }
    scores["score_mode"] = "min" if metric == "segment_1s_er" else "max"
    seeds = seeds or [fold_scores[0]]
    scores["seed_spread"] = {
        "seeds": list(range(len(seeds))),
        "test_scores": seeds,
        "mean": float(np.mean(seeds)),
        "std": float(np.std(seeds, ddof=1)) if len(seeds) > 1 else 0.0,
        "ci95": [min(seeds), max(seeds)],
    }
    (folder / "test.predicted-scores.json").write_text(json.dumps(scores))
    meta = {"task_name": task.split("-")[0], "mode": mode or task.rsplit("-", 1)[-1]}
    meta["evaluation"] = [metric]
    (folder / "task_metadata.json").write_text(json.dumps(meta))
    return folder


def test_collect_single_fold_kfold_and_seeds(tmp_path):
    write_result(tmp_path, "m1", "speech_commands-v0.0.2-5h", [0.8])
    write_result(tmp_path, "m1", "esc50-v2.0.0-full", [0.5, 0.7, 0.6])
    write_result(tmp_path, "m2", "esc50-v2.0.0-full", [0.4, 0.6], seeds=[0.5, 0.7, 0.9])
    results = collect([tmp_path])
    assert [(r.task, r.model) for r in results] == [
        ("esc50-v2.0.0-full", "m1"),
        ("esc50-v2.0.0-full", "m2"),
        ("speech_commands-v0.0.2-5h", "m1"),
    ]
    kfold, seeded, single = results
    assert kfold.score == pytest.approx(0.6) and kfold.spread == pytest.approx(0.1)
    assert (kfold.spread_kind, kfold.n, kfold.ci95) == ("folds", 3, None)
    assert seeded.score == pytest.approx(0.5)  # the leaderboard number stays the fold mean
    assert seeded.spread == pytest.approx(0.2) and (seeded.spread_kind, seeded.n) == ("seeds", 3)
    assert seeded.ci95 == (0.5, 0.9)
    assert single.score == 0.8 and single.spread is None and single.spread_kind == ""
    assert (single.task_name, single.mode, single.metric) == ("speech_commands", "5h", "top1_acc")


def test_collect_minimised_metric_without_score_mode(tmp_path):
    folder = write_result(tmp_path, "m", "dcase2016_task2-hear2021-full", [0.4], "segment_1s_er")
    scores = json.loads((folder / "test.predicted-scores.json").read_text())
    del scores["score_mode"]
    (folder / "test.predicted-scores.json").write_text(json.dumps(scores))
    assert collect([tmp_path])[0].maximize is False


def test_collect_errors(tmp_path):
    with pytest.raises(ResultsError, match="no results found"):
        collect([tmp_path])
    with pytest.raises(ResultsError, match="not a folder"):
        collect([tmp_path / "missing"])
    write_result(tmp_path, "m0", "t-v1-full", [0.5])
    with pytest.raises(ResultsError, match="one model's folder"):
        collect([tmp_path / "m0"])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_result(tmp_path / "a", "m", "t-v1-full", [0.5])
    write_result(tmp_path / "b", "m", "t-v1-full", [0.6])
    with pytest.raises(ResultsError, match="appears twice"):
        collect([tmp_path / "a", tmp_path / "b"])
    (tmp_path / "a" / "m" / "t-v1-full" / "test.predicted-scores.json").write_text("{")
    with pytest.raises(ResultsError, match="cannot read JSON"):
        collect([tmp_path / "a"])


def test_clipped_z_by_hand():
    nan = np.nan
    scores = np.array([[0.9, 0.1, 0.5], [0.7, 0.3, nan], [0.5, 0.2, nan]])
    z = clipped_z(scores, np.array([True, False, True]))
    # task 0: mean .7, population std sqrt(.08/3) = .1633 -> z = +-1.2247, clipped to +-1
    np.testing.assert_allclose(z[:, 0], [1.0, 0.0, -1.0], atol=1e-12)
    # task 1 is minimised: mean .2, std .08165 -> raw z = -1.2247, 1.2247, 0; flipped and clipped
    np.testing.assert_allclose(z[:, 1], [1.0, -1.0, 0.0], atol=1e-12)
    # task 2: one model only -> undefined
    assert np.isnan(z[:, 2]).all()
    overall = overall_scores(scores, np.array([True, False, True]))
    assert [(o.score, o.n_ranked, o.n_tasks) for o in overall] == [
        (pytest.approx(1.0), 2, 3),
        (pytest.approx(-0.5), 2, 2),
        (pytest.approx(-0.5), 2, 2),
    ]


def test_overall_unclipped_value_and_ties():
    scores = np.array([[0.6, 0.5], [0.4, 0.5], [0.5, 0.5]])  # task 0: z = +-1.2247 and 0
    overall = overall_scores(scores, np.array([True, True]))
    assert [o.score for o in overall] == pytest.approx([0.5, -0.5, 0.0])
    scores = np.array([[0.6, 0.4], [0.4, 0.5], [0.5, 0.6], [0.5, 0.5]])  # z = +-1.414, 0
    z = clipped_z(scores, np.array([True, True]))
    np.testing.assert_allclose(z[:, 1], [-1.0, 0.0, 1.0, 0.0])


def test_single_model_has_no_overall(tmp_path):
    write_result(tmp_path, "only", "esc50-v2.0.0-full", [0.5, 0.7])
    board = build_board(collect([tmp_path]), published=False)
    (row,) = board.rows
    assert row.overall.score is None and row.overall.n_tasks == 1
    assert "n/a (0/1 task)" in to_markdown(board)
    assert "1 result: 1 model × 1 task bundle." in to_markdown(board)


def test_published_data_shape():
    with open(LEADERBOARD_CSV, newline="") as f:
        header = next(csv.reader(f))
    columns = {column for column, _ in TASK_COLUMNS.values()}
    assert header[:2] == ["Model", "URL"] and set(header[2:]) == columns == set(_BEST)
    assert len(columns) == 19
    board = read_leaderboard()
    assert len(board) == 30 and "CP-JKU mn40_as (e1+l+all_se)" in board
    rows = published_rows()
    assert set(rows) == set(board) | {"Best per task"}
    assert rows["CREPE"]["NSynth Pitch 50h"][0] == pytest.approx(0.9, abs=1e-6)
    assert "Beehive" not in rows["CP-JKU PaSST base"]  # an empty cell is no score


@pytest.fixture()
def board(tmp_path):
    write_result(tmp_path, "b|model", "esc50-v2.0.0-full", [0.8, 0.9])
    write_result(tmp_path, "a<model>", "esc50-v2.0.0-full", [0.6, 0.7])
    write_result(tmp_path, "a<model>", "speech_commands-v0.0.2-5h", [0.9])
    write_result(tmp_path, "b|model", "tones-v1-small", [0.3])
    return build_board(collect([tmp_path]), published=True)


def test_csv_content(board):
    rows = list(csv.DictReader(io.StringIO(to_csv(board))))
    assert [r["model"] for r in rows[:2]] == ["b|model", "a<model>"]  # best overall first
    ours = {r["model"]: r for r in rows[:2]}
    assert float(ours["b|model"]["esc50-v2.0.0-full"]) == pytest.approx(0.85)
    assert float(ours["b|model"]["esc50-v2.0.0-full spread"]) == pytest.approx(0.0707107)
    assert ours["b|model"]["esc50-v2.0.0-full spread over"] == "2 folds"
    assert ours["a<model>"]["speech_commands-v0.0.2-5h spread"] == ""
    assert ours["b|model"]["speech_commands-v0.0.2-5h"] == ""
    assert float(ours["b|model"]["overall"]) == 1.0 and ours["b|model"]["tasks_ranked"] == "1"
    assert ours["b|model"]["tasks_covered"] == "2"
    published = {r["model"]: r for r in rows[2:]}
    assert set(published) == set(read_leaderboard()) | {"Best per task"}
    assert all(r["source"] == "published HEAR 2021, not re-run" for r in published.values())
    # The published values, as HEAR's leaderboard.csv has them.
    assert published["OpenL3"]["esc50-v2.0.0-full"] == "0.7505000114"
    assert published["OpenL3"]["speech_commands-v0.0.2-5h"] == "0.6795501113"
    assert published["OpenL3"]["tones-v1-small"] == ""  # no published column
    assert published["OpenL3"]["overall"] == ""  # never ranked


def test_published_not_in_ranking(board, tmp_path):
    no_pub = build_board(collect([tmp_path]), published=False)
    assert [r.overall for r in board.rows[:2]] == [r.overall for r in no_pub.rows]
    assert len(no_pub.rows) == 2


def test_small_mode_is_not_matched_to_published(tmp_path):
    write_result(tmp_path, "m", "esc50-v2.0.0-small", [0.5])
    board = build_board(collect([tmp_path]))
    assert board.tasks[0].published_column is None
    assert all(not r.cells for r in board.rows if r.published)


def test_markdown_content(board):
    md = to_markdown(board)
    assert (
        "| b\\|model | this run | unknown | +1.000 (1/2 tasks) | 0.850 ± 0.071 |  | 0.300 |" in md
    )
    assert "| a<model> | this run | unknown | -1.000 (1/2 tasks) | 0.650 ± 0.071 | 0.900 |  |" in md
    assert "| OpenL3 | published HEAR 2021, not re-run |  | not ranked | 0.751 | 0.680 |  |" in md
    assert "4 results: 2 models × 3 task bundles." in md
    assert "esc50-v2.0.0-full: top1_acc (higher is better); published column: ESC-50" in md


def test_output_is_deterministic(board, tmp_path):
    again = build_board(collect([tmp_path]), published=True)
    assert (to_csv(again), to_markdown(again), to_html(again)) == (
        to_csv(board),
        to_markdown(board),
        to_html(board),
    )


def test_html_escapes_names(board):
    page = to_html(board)
    assert "a<model>" not in page and "a&lt;model&gt;" in page
    assert page.count('class="task-chart"') == 3


class _Values(HTMLParser):
    """Every attribute value and text of a page, as a browser reads them (entities decoded)."""

    def __init__(self):
        super().__init__()
        self.attrs, self.texts, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [v for _, v in attrs if v is not None]

    def handle_data(self, data):
        self.texts.append(data)


NASTY = "<script>alert('x')</script> & \"q\""


def test_html_escapes_special_characters():
    task = Task(NASTY, "m<&>", True, "P&'<")
    note = "note <i>&amp;"
    rows = [
        Row(NASTY, "src<&>", False, {NASTY: Cell(0.5, 0.1, "folds", 5, note)}, Overall(0.5, 1, 1)),
        Row("pub\"'<", "published", True, {NASTY: Cell(0.7, note=note)}, None),
    ]
    page = to_html(Board([task], rows))
    assert "<script>alert" not in page and "<i>" not in page and "&amp;amp;" in page
    values = _Values()
    values.feed(page)
    assert values.tags.count("script") == 1  # the page's own script only
    assert {NASTY, f"task:{NASTY}", "src<&>", "pub\"'<", "5 folds " + note} <= set(values.attrs)
    texts = "".join(values.texts)
    for text in (NASTY, "m<&> ↑", "HEAR: P&'<", "src<&>", f"pub\"'<: 0.700 — {note}"):
        assert text in texts


def test_page_is_self_contained_without_test_trap(board):
    page = to_html(board)
    assets = resources.files("heareval.leaderboard") / "templates"
    for name in ("leaderboard.css", "leaderboard.js"):
        assert (assets / name).read_text(encoding="utf-8") in page  # inlined, unescaped
    assert "<link" not in page and "src=" not in page
    # the browser test adds its own error trap; none belongs in the published page
    assert "js-errors" not in page and "onerror" not in page and "jsErrors" not in page
    assert 'addEventListener("error"' not in page and page.count("<script>") == 1
    assert page.endswith("</body></html>\n")


def test_cli(tmp_path):
    write_result(tmp_path / "res", "m", "esc50-v2.0.0-full", [0.5])
    run = subprocess.run(
        [sys.executable, "-m", "heareval.leaderboard", str(tmp_path / "res"), "--out"]
        + [str(tmp_path / "out"), "--no-published"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "index.html",
        "leaderboard.csv",
        "leaderboard.md",
    ]
    assert "published" not in (tmp_path / "out" / "leaderboard.csv").read_text()
    (tmp_path / "empty").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "heareval.leaderboard", str(tmp_path / "empty"), "--out", "x"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 3 and "no results found" in run.stderr


def test_published_column_needs_same_mode_and_metric():
    from heareval.leaderboard.published import TASK_COLUMNS, published_column

    assert len({col for col, _ in TASK_COLUMNS.values()}) == 19
    assert published_column("esc50", "full", "top1_acc") == "ESC-50"
    assert published_column("speech_commands", "5h", "top1_acc") == "Speech commands 5h"
    assert published_column("dcase2016_task2", "full", "event_onset_200ms_fms") == "DCASE 2016"
    assert published_column("dcase2016_task2", "full", "segment_1s_er") is None
    assert published_column("esc50", "small", "top1_acc") is None
    assert published_column("esc50", "full", "") is None
    assert published_column("tones", "full", "top1_acc") is None
