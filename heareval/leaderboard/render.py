"""Write a `Board` as CSV, Markdown and a self-contained HTML page (inline CSS, JS and SVG).

CSV layout (wide, one row per model): `model, source, overall, tasks_ranked, tasks_covered`, then
for every task bundle three columns: `<task>` (primary test score), `<task> spread` (standard
deviation) and `<task> spread over` (e.g. "5 folds", "3 seeds"); blank where there is no number.
"""

from __future__ import annotations

import csv
import io
import re
from html import escape
from pathlib import Path

from heareval.leaderboard.rank import OVERALL_DESCRIPTION, Board, Cell, Row, Task
from hearpreprocess.atomic import atomic_write_text

# Installed before any other script so that errors anywhere on the page are listed in #js-errors
# (the page test reads that list from the DOM Chromium dumps).
_ERROR_TRAP = (
    "window.jsErrors=[];window.onerror=function(m,s,l,c){window.jsErrors.push(m+' ('+l+':'+c+')');"
    "var e=document.getElementById('js-errors');if(e){e.textContent=window.jsErrors.join('\\n');}};"
)

_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HEAR leaderboard</title>
<script>{_ERROR_TRAP}</script>
<style>{{{{STYLE}}}}</style></head>
<body>
<h1>HEAR leaderboard</h1>
<p>{{{{SUMMARY}}}} Primary test score per task bundle, &plusmn; the standard deviation over test
folds (or over seeds when the run was repeated). Click a column header to sort; the page also
accepts <code>#sort=&lt;column key&gt;&amp;dir=asc|desc</code>. Rows marked
<span class="badge">published, not re-run</span> are numbers copied from the HEAR 2021
leaderboard for reference; blank cells mean no result.</p>
<div class="scroll">{{{{TABLE}}}}</div>
<h2>Overall score</h2>
<p id="overall-help">{{{{OVERALL}}}}</p>
<h2>Per-task scores</h2>
<p class="legend"><span class="key ours"></span> this run (bar = score, line = &plusmn; spread)
<span class="key published"></span> published HEAR 2021, not re-run</p>
<div id="charts">{{{{CHARTS}}}}</div>
<pre id="js-errors"></pre>
<script>{{{{SCRIPT}}}}</script>
</body></html>
"""

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#eef2f7;cursor:pointer;vertical-align:bottom;user-select:none}
th small{font-weight:normal;color:#555}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;white-space:nowrap}
td.model{font-weight:600}
.spread{color:#777;font-size:11px}
tr.published td{background:#fdf6e3;color:#5b4a12}
.badge{display:inline-block;background:#c9a227;color:#fff;border-radius:3px;font-size:10px;
  padding:1px 5px;font-weight:normal;vertical-align:middle}
#charts{display:flex;flex-wrap:wrap;gap:18px}
svg.task-chart{border:1px solid #ddd;background:#fff;font-size:11px}
svg .chart-title{font-weight:600;font-size:12px}
g.ours rect{fill:#3b6ea5}
g.published rect{fill:#e9d38c;stroke:#c9a227;stroke-dasharray:3 2}
line.err{stroke:#111;stroke-width:1.5}
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.key.ours{background:#3b6ea5}.key.published{background:#e9d38c;border:1px dashed #c9a227}
#js-errors:empty{display:none}
#js-errors{color:#b00;border:1px solid #b00;padding:6px}
"""

_SCRIPT = """
(function () {
  var table = document.getElementById("leaderboard");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var body = table.tBodies[0];
  var current = {key: null, dir: 0};
  function compare(idx, numeric, dir) {
    return function (a, b) {
      var va = a.cells[idx].dataset.value, vb = b.cells[idx].dataset.value;
      var order = Number(a.dataset.index) - Number(b.dataset.index);
      if (va === "" || vb === "") { return va === vb ? order : (va === "" ? 1 : -1); }
      var d = numeric ? Number(va) - Number(vb) : va.localeCompare(vb);
      return d === 0 ? order : d * dir;
    };
  }
  function sortBy(key, dir) {
    var idx = heads.findIndex(function (th) { return th.dataset.key === key; });
    if (idx < 0) { throw new Error("unknown sort column: " + key); }
    var th = heads[idx], numeric = th.dataset.type === "num";
    if (!dir) { dir = !numeric ? 1 : (th.dataset.better === "min" ? 1 : -1); }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(compare(idx, numeric, dir));
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    current = {key: key, dir: dir};
    document.body.dataset.sort = key + ":" + (dir > 0 ? "asc" : "desc");
  }
  heads.forEach(function (th) {
    var go = function () {
      var key = th.dataset.key;
      sortBy(key, current.key === key ? -current.dir : 0);
    };
    th.addEventListener("click", go);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
  });
  var params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.get("sort")) {
    sortBy(params.get("sort"), params.get("dir") === "asc" ? 1 : params.get("dir") ? -1 : 0);
  }
  document.body.dataset.ready = "1";
})();
"""


def _spread_over(cell: Cell) -> str:
    return f"{cell.n} {cell.spread_kind}" if cell.spread is not None else ""


def format_cell(cell: Cell | None) -> str:
    """`0.812 ± 0.010` (3 decimals), `0.812` without spread, "" when missing."""
    if cell is None:
        return ""
    text = f"{cell.score:.3f}"
    return text + (f" ± {cell.spread:.3f}" if cell.spread is not None else "")


def format_overall(row: Row) -> str:
    """`+0.412 (3/4 tasks)`, `n/a (0/1 tasks)`, or "not ranked" for published rows."""
    if row.overall is None:
        return "not ranked"
    o = row.overall
    value = "n/a" if o.score is None else f"{o.score:+.3f}"
    return f"{value} ({o.n_ranked}/{o.n_tasks} tasks)"


def to_csv(board: Board) -> str:
    """The wide CSV described in the module docstring."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["model", "source", "overall", "tasks_ranked", "tasks_covered"]
    for task in board.tasks:
        header += [task.name, f"{task.name} spread", f"{task.name} spread over"]
    writer.writerow(header)
    for row in board.rows:
        o = row.overall
        line = [
            row.name,
            row.source,
            "" if o is None or o.score is None else repr(o.score),
            "" if o is None else o.n_ranked,
            "" if o is None else o.n_tasks,
        ]
        for task in board.tasks:
            cell = row.cells.get(task.name)
            if cell is None:
                line += ["", "", ""]
            else:
                spread = "" if cell.spread is None else repr(cell.spread)
                line += [repr(cell.score), spread, _spread_over(cell)]
        writer.writerow(line)
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _direction(task: Task) -> str:
    return "higher is better" if task.maximize else "lower is better"


def to_markdown(board: Board) -> str:
    """A Markdown table (scores ± spread) with notes on metrics and the overall score."""
    header = ["Model", "Source", "Overall"] + [t.name for t in board.tasks]
    lines = [
        "# Leaderboard",
        "",
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in board.rows:
        cells = [format_cell(row.cells.get(t.name)) for t in board.tasks]
        line = [row.name, row.source, format_overall(row)] + cells
        lines.append("| " + " | ".join(_md(c) for c in line) + " |")
    lines += ["", "Primary metric per task (± is the std over folds, or over seeds when repeated):"]
    for t in board.tasks:
        ref = f"; published column: {t.published_column}" if t.published_column else ""
        lines.append(f"- {_md(t.name)}: {_md(t.metric or '?')} ({_direction(t)}){_md(ref)}")
    lines += ["", OVERALL_DESCRIPTION, ""]
    return "\n".join(lines)


def _bar_chart(index: int, task: Task, rows: list[Row]) -> str:
    """An inline SVG bar chart of one task: one horizontal bar per row that has the task."""
    have = [(row, row.cells[task.name]) for row in rows if task.name in row.cells]
    label_w, bar_w, bar_h, gap, top = 230, 300, 16, 6, 26
    high = max([1.0] + [c.score + (c.spread or 0.0) for _, c in have])
    height = top + len(have) * (bar_h + gap) + 6
    title = f"{task.name} — {task.metric or '?'} ({_direction(task)})"
    parts = [
        f'<svg class="task-chart" id="chart-{index}" data-task="{escape(task.name)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for k, (row, cell) in enumerate(have):
        y = top + k * (bar_h + gap)
        w = max(bar_w * cell.score / high, 0.0)
        name = row.name if len(row.name) <= 32 else row.name[:31] + "…"
        kind = "published" if row.published else "ours"
        parts.append(
            f'<g class="bar {kind}"><title>{escape(row.name)}: {escape(format_cell(cell))}'
            f"{escape(' — ' + cell.note if cell.note else '')}</title>"
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}"/>'
        )
        if cell.spread:
            lo = label_w + bar_w * max(cell.score - cell.spread, 0.0) / high
            hi = label_w + bar_w * (cell.score + cell.spread) / high
            parts.append(
                f'<line class="err" x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + 8}" y2="{y + 8}"/>'
            )
        end = label_w + max(w, bar_w * (cell.score + (cell.spread or 0.0)) / high)
        parts.append(f'<text x="{end + 4:.1f}" y="{y + 12}">{cell.score:.3f}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _th(key: str, label: str, kind: str, better: str = "max", title: str = "") -> str:
    return (
        f'<th data-key="{escape(key)}" data-type="{kind}" data-better="{better}" '
        f'title="{escape(title)}" tabindex="0">{label}</th>'
    )


def _table(board: Board) -> str:
    head = [
        _th("model", "Model", "text"),
        _th("source", "Source", "text"),
        _th("overall", "Overall", "num", title="mean clipped z-score; see below"),
    ]
    for t in board.tasks:
        sub = escape(f"{t.metric or '?'} {'↑' if t.maximize else '↓'}")
        ref = f"<br><small>HEAR: {escape(t.published_column)}</small>" if t.published_column else ""
        label = f"{escape(t.name)}<br><small>{sub}</small>{ref}"
        head.append(_th(f"task:{t.name}", label, "num", "max" if t.maximize else "min", t.name))
    body = []
    for i, row in enumerate(board.rows):
        badge = ' <span class="badge">published, not re-run</span>' if row.published else ""
        o = row.overall
        o_value = "" if o is None or o.score is None else repr(o.score)
        tds = [
            f'<td data-value="{escape(row.name)}" class="model">{escape(row.name)}{badge}</td>',
            f'<td data-value="{escape(row.source)}">{escape(row.source)}</td>',
            f'<td data-value="{o_value}" class="num">{escape(format_overall(row))}</td>',
        ]
        for t in board.tasks:
            cell = row.cells.get(t.name)
            if cell is None:
                tds.append('<td data-value="" class="num missing"></td>')
                continue
            spread = (
                "" if cell.spread is None else f' <span class="spread">± {cell.spread:.3f}</span>'
            )
            tip = " ".join(x for x in (_spread_over(cell), cell.note) if x)
            tds.append(
                f'<td data-value="{cell.score!r}" class="num" title="{escape(tip)}">'
                f"{cell.score:.3f}{spread}</td>"
            )
        kind = "published" if row.published else "ours"
        body.append(f'<tr class="{kind}" data-index="{i}">' + "".join(tds) + "</tr>")
    return (
        '<table id="leaderboard"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def to_html(board: Board) -> str:
    """The self-contained page: sortable table, one SVG bar chart per task, explanations."""
    ours = [r for r in board.rows if not r.published]
    charts = "".join(_bar_chart(i, t, board.rows) for i, t in enumerate(board.tasks))
    n_results = sum(len(r.cells) for r in ours)
    parts = {
        "STYLE": _STYLE,
        "SCRIPT": _SCRIPT,
        "SUMMARY": f"{n_results} results: {len(ours)} models × {len(board.tasks)} task bundles.",
        "TABLE": _table(board),
        "OVERALL": escape(OVERALL_DESCRIPTION),
        "CHARTS": charts,
    }
    # One pass, so that text inside a part (e.g. a model named "{{TABLE}}") is never substituted.
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], _PAGE)


def write_all(board: Board, out_dir: Path) -> list[Path]:
    """Write leaderboard.csv, leaderboard.md and index.html into `out_dir` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "leaderboard.csv": to_csv(board),
        "leaderboard.md": to_markdown(board),
        "index.html": to_html(board),
    }
    for name, text in outputs.items():
        atomic_write_text(out_dir / name, text)
    return [out_dir / name for name in outputs]
