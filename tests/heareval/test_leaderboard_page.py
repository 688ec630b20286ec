"""The leaderboard page in real headless Chromium: it runs its script without errors, shows every
result, draws one chart per task, sorts, and renders to a screenshot.

Script errors are caught twice: Chromium's console log (`--enable-logging=stderr`) must have no
"Uncaught" line, and each test renders a copy of the page with `_ERROR_TRAP` put first in <head>,
which writes every uncaught error into the DOM that `--dump-dom` prints. The trap is the tests'
own; the published page carries none.
"""

import json
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from heareval.leaderboard.__main__ import main
from heareval.leaderboard.published import published_rows

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)"
)

# task bundle -> (primary metric, number of folds); dcase's segment_1s_er is minimised
TASKS = {
    "esc50-v2.0.0-full": ("top1_acc", 5),
    "speech_commands-v0.0.2-5h": ("top1_acc", 1),
    "dcase2016_task2-hear2021-full": ("segment_1s_er", 1),
    "tones-v1-small": ("top1_acc", 3),
}
MODELS = ["naive", "crepe", 'wav2vec2 <b>"&x', "openl3"]

# Runs before the page's own script: lists every uncaught error (and rejected promise) in a
# <pre id="js-errors"> made on first use, and marks <html> so a test knows the trap was in place.
_ERROR_TRAP = """
document.documentElement.dataset.trap = "installed";
function trapped(text) {
  var pre = document.getElementById("js-errors");
  if (!pre) {
    pre = document.createElement("pre");
    pre.id = "js-errors";
    document.documentElement.appendChild(pre);
  }
  pre.textContent += text + "\\n";
}
window.addEventListener("error", function (e) {
  trapped(e.message + " (" + e.lineno + ":" + e.colno + ")");
});
window.addEventListener("unhandledrejection", function (e) { trapped("rejected: " + e.reason); });
"""


def _write(root: Path, model: str, task: str, values: list[float]) -> None:
    metric, _ = TASKS[task]
    folder = root / model / task
    folder.mkdir(parents=True)
    keys = ["test"] if len(values) == 1 else [f"fold{i:02d}" for i in range(len(values))]
    scores = {k: {"test_score": v, f"test_{metric}": v} for k, v in zip(keys, values)}
    if len(values) > 1:
        mean, std = float(np.mean(values)), float(np.std(values, ddof=1))
        scores["aggregated_scores"] = {"test_score_mean": mean, "test_score_std": std}
    scores["score_mode"] = "min" if metric == "segment_1s_er" else "max"
    (folder / "test.predicted-scores.json").write_text(json.dumps(scores))
    meta = {"task_name": task.split("-")[0], "mode": task.rsplit("-", 1)[1], "evaluation": [metric]}
    (folder / "task_metadata.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Synthetic results (openl3 lacks dcase) and the leaderboard built from them by the CLI."""
    root = tmp_path_factory.mktemp("leaderboard")
    rng = np.random.default_rng(0)
    expected = {}
    for model in MODELS:
        for task, (_, folds) in TASKS.items():
            if model == "openl3" and task.startswith("dcase"):
                continue
            values = [round(float(v), 4) for v in rng.uniform(0.1, 0.95, folds)]
            _write(root / "results", model, task, values)
            expected[model, task] = float(np.mean(values))
    assert main([str(root / "results"), "--out", str(root / "site")]) == 0
    return root, expected


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=True
    )


class _Page(HTMLParser):
    """Collects table rows (data-value and text of each cell), charts and body attributes."""

    def __init__(self):
        super().__init__()
        self.rows, self.charts, self.html, self.body, self.errors = [], {}, {}, {}, ""
        self._cell = self._chart = self._in_errors = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html = a
        elif tag == "body":
            self.body = a
        elif tag == "tr" and "data-index" in a:
            self.rows.append([])
        elif tag == "td" and self.rows:
            self._cell = [a.get("data-value"), ""]
            self.rows[-1].append(self._cell)
        elif tag == "svg" and "data-task" in a:
            self._chart = self.charts.setdefault(a["data-task"], [])
        elif tag == "rect" and self._chart is not None:
            self._chart.append(a)
        elif tag == "pre" and a.get("id") == "js-errors":
            self._in_errors = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "svg":
            self._chart = None
        elif tag == "pre":
            self._in_errors = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        if self._in_errors:
            self.errors += data


def _with_trap(page: str) -> str:
    """The page with `_ERROR_TRAP` as the first script of <head>, before anything can throw."""
    assert page.count("<head>") == 1
    return page.replace("<head>", f"<head><script>{_ERROR_TRAP}</script>", 1)


def _render(site, tmp_path, fragment=""):
    root, _ = site
    # The page is self-contained, so a copy elsewhere renders the same.
    trapped = tmp_path / "index.html"
    trapped.write_text(_with_trap((root / "site" / "index.html").read_text()))
    run = _chromium(tmp_path, "--dump-dom", trapped.as_uri() + fragment)
    page = _Page()
    page.feed(run.stdout)
    return page, run.stderr


def _assert_clean(page, stderr):
    console_errors = [
        line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert console_errors == []
    assert page.html.get("data-trap") == "installed"
    assert page.errors == ""  # nothing reached the trap
    assert page.body.get("data-ready") == "1"  # the script ran to its end


def test_renders_every_result_without_errors(site, tmp_path):
    page, stderr = _render(site, tmp_path)
    _assert_clean(page, stderr)
    _, expected = site
    tasks = sorted(TASKS)
    ours = {row[0][0]: row for row in page.rows if row[1][0] == "this run"}
    assert sorted(ours) == sorted(MODELS)
    for model, row in ours.items():
        for j, task in enumerate(tasks):
            value, text = row[4 + j]  # model, source, setting, overall, then the tasks
            if (model, task) in expected:
                assert float(value) == pytest.approx(expected[model, task])
                assert text.startswith(f"{expected[model, task]:.3f}")
            else:
                assert value == "" and text == ""
    published = [row for row in page.rows if row[1][0] == "published HEAR 2021, not re-run"]
    assert [row[0][0] for row in published] == list(published_rows())
    assert len(published) == 31  # the 30 models of HEAR's leaderboard.csv, then the best
    assert all("published, not re-run" in row[0][1] for row in published)
    root, _ = site
    assert "<b>" not in (root / "site" / "index.html").read_text()  # names are escaped


def test_one_bar_chart_per_task(site, tmp_path):
    page, _ = _render(site, tmp_path)
    assert sorted(page.charts) == sorted(TASKS)
    _, expected = site
    for task, rects in page.charts.items():
        n_ours = sum(1 for (_, t) in expected if t == task)
        # tones has no published column; the dcase bundle here is scored with segment_1s_er,
        # not the published event_onset_200ms_fms, so its published numbers are left out
        column = {"esc50": "ESC-50", "speech_commands": "Speech commands 5h"}.get(
            task.split("-")[0]
        )
        n_published = sum(1 for row in published_rows().values() if column in row)
        assert len(rects) == n_ours + n_published
        assert all(float(r["width"]) >= 0 for r in rects)


def _column(page, j):
    return [row[j][0] for row in page.rows if row[1][0] == "this run"]


@pytest.mark.parametrize(
    "fragment, task, descending",
    [
        ("#sort=task:esc50-v2.0.0-full&dir=asc", "esc50-v2.0.0-full", False),
        ("#sort=task:esc50-v2.0.0-full", "esc50-v2.0.0-full", True),  # higher is better first
        ("#sort=task:dcase2016_task2-hear2021-full", "dcase2016_task2-hear2021-full", False),
    ],
)
def test_sort_from_url(site, tmp_path, fragment, task, descending):
    page, stderr = _render(site, tmp_path, fragment)
    _assert_clean(page, stderr)
    values = _column(page, 4 + sorted(TASKS).index(task))
    present = [float(v) for v in values if v != ""]
    assert present == sorted(present, reverse=descending) and len(present) >= 3
    assert values[len(present) :] == [""] * (len(values) - len(present))  # missing cells last
    assert page.body["data-sort"].endswith("desc" if descending else "asc")


def test_script_errors_are_caught(site, tmp_path):
    """The checks above can fail: an unknown sort column makes the script throw, and both the
    trap and the console log report it."""
    page, stderr = _render(site, tmp_path, "#sort=no-such-column")
    assert page.html.get("data-trap") == "installed"
    assert "unknown sort column" in page.errors
    assert "data-ready" not in page.body
    assert "Uncaught" in stderr
    with pytest.raises(AssertionError):
        _assert_clean(page, stderr)


def test_published_page_has_no_trap(site):
    root, _ = site
    page = (root / "site" / "index.html").read_text()
    assert "js-errors" not in page and "data-trap" not in page
    assert "onerror" not in page and 'addEventListener("error"' not in page
    assert page.count("<script>") == 1  # the sorting script only


def test_screenshot(site, tmp_path):
    root, _ = site
    shot = tmp_path / "leaderboard.png"
    url = (root / "site" / "index.html").as_uri()
    _chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}", url)
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 1600)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB
    print(f"leaderboard screenshot: {shot}")
