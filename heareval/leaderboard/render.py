"""Write a `Board` as CSV, Markdown and a self-contained HTML page (inline CSS, JS and SVG).

CSV layout (wide, one row per model and setting): `model, source, probe, grid, grid_points, seeds`
(the setting that produced the row: the prediction stage's options, seeds as `42` or `42-44`;
blank for published rows and for results without prediction-done.json), `overall, tasks_ranked,
tasks_covered`, then for every task bundle three columns: `<task>` (primary test score),
`<task> spread` (standard deviation) and `<task> spread over` (e.g. "5 folds", "3 seeds"); blank
where there is no number.

The page is package data under `templates/`: Jinja2 templates (`page.html`, which includes
`table.html` and `chart.html`) and the stylesheet and script they inline (`leaderboard.css`,
`leaderboard.js`). This module only turns the board into plain values (formatted numbers, chart
coordinates); the templates lay them out and Jinja escapes every one of them.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2

from hearcore.atomic import atomic_write_text
from heareval.leaderboard.rank import OVERALL_DESCRIPTION, Board, Cell, Row, Task

_PACKAGE = "heareval.leaderboard"
_TEMPLATES = "templates"


def plural(n: int, noun: str) -> str:
    """`1 result`, `2 results`, `0 results` (every noun here takes an s)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _spread_over(cell: Cell) -> str:
    """`5 folds`, `3 seeds`; spread_kind is the plural noun ("folds"/"seeds")."""
    if cell.spread is None:
        return ""
    return plural(cell.n, cell.spread_kind[:-1]) if cell.spread_kind.endswith("s") else ""


def setting_text(row: Row) -> str:
    """The setting of a row for the Markdown table and the page; "" for published rows."""
    if row.published:
        return ""
    return row.setting.label if row.setting else "unknown"


def summary_text(board: Board) -> str:
    """`3 results: 2 models × 2 task bundles` (and how many settings, when a model has several)."""
    ours = [r for r in board.rows if not r.published]
    n_models = len({r.name for r in ours})
    text = (
        f"{plural(sum(len(r.cells) for r in ours), 'result')}: {plural(n_models, 'model')} × "
        f"{plural(len(board.tasks), 'task bundle')}"
    )
    if len(ours) != n_models:
        text += f", in {len(ours)} rows (a row per model and setting)"
    return text


def format_cell(cell: Cell | None) -> str:
    """`0.812 ± 0.010` (3 decimals), `0.812` without spread, "" when missing."""
    if cell is None:
        return ""
    text = f"{cell.score:.3f}"
    return text + (f" ± {cell.spread:.3f}" if cell.spread is not None else "")


def format_overall(row: Row) -> str:
    """`+0.412 (3/4 tasks)`, `n/a (0/1 task)`, or "not ranked" for published rows."""
    if row.overall is None:
        return "not ranked"
    o = row.overall
    value = "n/a" if o.score is None else f"{o.score:+.3f}"
    return f"{value} ({o.n_ranked}/{plural(o.n_tasks, 'task')})"


def to_csv(board: Board) -> str:
    """The wide CSV described in the module docstring."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["model", "source", "probe", "grid", "grid_points", "seeds"]
    header += ["overall", "tasks_ranked", "tasks_covered"]
    for task in board.tasks:
        header += [task.name, f"{task.name} spread", f"{task.name} spread over"]
    writer.writerow(header)
    for row in board.rows:
        o = row.overall
        st = row.setting
        line: list[str | int] = [row.name, row.source]
        line += (
            ["", "", "", ""] if st is None else [st.probe, st.grid, st.grid_points, st.seed_range]
        )
        line += [
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
    header = ["Model", "Source", "Setting", "Overall"] + [t.name for t in board.tasks]
    lines = [
        "# Leaderboard",
        "",
        summary_text(board) + ".",
        "",
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in board.rows:
        cells = [format_cell(row.cells.get(t.name)) for t in board.tasks]
        line = [row.name, row.source, setting_text(row), format_overall(row)] + cells
        lines.append("| " + " | ".join(_md(c) for c in line) + " |")
    lines += ["", "Primary metric per task (± is the std over folds, or over seeds when repeated):"]
    for t in board.tasks:
        ref = f"; published column: {t.published_column}" if t.published_column else ""
        lines.append(f"- {_md(t.name)}: {_md(t.metric or '?')} ({_direction(t)}){_md(ref)}")
    lines += ["", OVERALL_DESCRIPTION, ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class _Column:
    """A table header: `kind` "num" or "text" and `better` "max"/"min" steer leaderboard.js."""

    key: str
    label: str
    kind: str
    better: str = "max"
    title: str = ""
    metric: str = ""
    published: str = ""


@dataclass(frozen=True)
class _TableCell:
    """A task cell: `value` (the exact score) is what the script sorts by, `text` what is shown."""

    value: str
    text: str
    spread: str
    tip: str


@dataclass(frozen=True)
class _TableRow:
    index: int
    kind: str
    name: str
    source: str
    setting: str
    overall_value: str
    overall_text: str
    cells: list[_TableCell | None]


@dataclass(frozen=True)
class _ErrorLine:
    x1: str
    x2: str
    y: int


@dataclass(frozen=True)
class _Bar:
    kind: str
    tooltip: str
    label: str
    label_x: int
    text_y: int
    x: int
    y: int
    width: str
    height: int
    err: _ErrorLine | None
    value_x: str
    value: str


@dataclass(frozen=True)
class _Chart:
    index: int
    task: str
    title: str
    width: int
    height: int
    bars: list[_Bar]


# Chart geometry in pixels: name column, longest bar, bar height, gap between bars, title band.
_LABEL_W, _BAR_W, _BAR_H, _GAP, _TOP = 230, 300, 16, 6, 26


def _kind(row: Row) -> str:
    return "published" if row.published else "ours"


def _bar_label(row: Row, shared: bool) -> str:
    """The row's name, with its probe and grid when another row has the same name; cut to fit
    the label column."""
    text = row.name
    if shared and row.setting:
        text += f" ({row.setting.probe}, {row.setting.grid}, s{row.setting.seed_range})"
    return text if len(text) <= 32 else text[:31] + "…"


def _bar(k: int, row: Row, cell: Cell, high: float, shared: bool) -> _Bar:
    """Bar `k` of a chart whose axis ends at `high`."""
    y = _TOP + k * (_BAR_H + _GAP)
    w = max(_BAR_W * cell.score / high, 0.0)
    err = None
    if cell.spread:
        lo = _LABEL_W + _BAR_W * max(cell.score - cell.spread, 0.0) / high
        hi = _LABEL_W + _BAR_W * (cell.score + cell.spread) / high
        err = _ErrorLine(f"{lo:.1f}", f"{hi:.1f}", y + 8)
    end = _LABEL_W + max(w, _BAR_W * (cell.score + (cell.spread or 0.0)) / high)
    return _Bar(
        kind=_kind(row),
        tooltip=_bar_tooltip(row, cell),
        label=_bar_label(row, shared),
        label_x=_LABEL_W - 6,
        text_y=y + 12,
        x=_LABEL_W,
        y=y,
        width=f"{w:.1f}",
        height=_BAR_H,
        err=err,
        value_x=f"{end + 4:.1f}",
        value=f"{cell.score:.3f}",
    )


def _bar_tooltip(row: Row, cell: Cell) -> str:
    setting = f" ({row.setting.label})" if row.setting else ""
    return f"{row.name}{setting}: {format_cell(cell)}" + (f" — {cell.note}" if cell.note else "")


def _chart(index: int, task: Task, rows: list[Row]) -> _Chart:
    """One task's bar chart: one horizontal bar per row that has the task."""
    have = [(row, row.cells[task.name]) for row in rows if task.name in row.cells]
    high = max([1.0] + [c.score + (c.spread or 0.0) for _, c in have])
    names = [row.name for row, _ in have]
    return _Chart(
        index=index,
        task=task.name,
        title=f"{task.name} — {task.metric or '?'} ({_direction(task)})",
        width=_LABEL_W + _BAR_W + 70,
        height=_TOP + len(have) * (_BAR_H + _GAP) + 6,
        bars=[
            _bar(k, row, cell, high, names.count(row.name) > 1)
            for k, (row, cell) in enumerate(have)
        ],
    )


def _columns(board: Board) -> list[_Column]:
    columns = [
        _Column("model", "Model", "text"),
        _Column("source", "Source", "text"),
        _Column(
            "setting", "Setting", "text", title="probe, grid and seeds of the prediction stage"
        ),
        _Column("overall", "Overall", "num", title="mean clipped z-score; see below"),
    ]
    for t in board.tasks:
        columns.append(
            _Column(
                key=f"task:{t.name}",
                label=t.name,
                kind="num",
                better="max" if t.maximize else "min",
                title=t.name,
                metric=f"{t.metric or '?'} {'↑' if t.maximize else '↓'}",
                published=t.published_column or "",
            )
        )
    return columns


def _table_cell(cell: Cell | None) -> _TableCell | None:
    if cell is None:
        return None
    return _TableCell(
        value=repr(cell.score),
        text=f"{cell.score:.3f}",
        spread="" if cell.spread is None else f"{cell.spread:.3f}",
        tip=" ".join(x for x in (_spread_over(cell), cell.note) if x),
    )


def _table_rows(board: Board) -> list[_TableRow]:
    rows = []
    for i, row in enumerate(board.rows):
        o = row.overall
        rows.append(
            _TableRow(
                index=i,
                kind=_kind(row),
                name=row.name,
                source=row.source,
                setting=setting_text(row),
                overall_value="" if o is None or o.score is None else repr(o.score),
                overall_text=format_overall(row),
                cells=[_table_cell(row.cells.get(t.name)) for t in board.tasks],
            )
        )
    return rows


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    """Templates from the installed package. Autoescape is on for all of them (all are HTML);
    StrictUndefined turns a misspelt name in a template into an error instead of a blank."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, _TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _inline_asset(name: str, tag: str) -> str:
    """The text of a package CSS/JS file, which page.html inlines unescaped inside `<tag>`.

    Escaping would corrupt it (the HTML parser does not decode entities inside <style> and
    <script>), so the template marks it safe; it is our own file, and the check keeps it from
    closing its element early.
    """
    text = (resources.files(_PACKAGE) / _TEMPLATES / name).read_text(encoding="utf-8")
    if f"</{tag}" in text.lower():
        raise ValueError(f"{name} contains '</{tag}', which would end the inlined <{tag}>")
    return text


def to_html(board: Board) -> str:
    """The self-contained page: sortable table, one SVG bar chart per task, explanations."""
    return (
        _environment()
        .get_template("page.html")
        .render(
            style=_inline_asset("leaderboard.css", "style"),
            script=_inline_asset("leaderboard.js", "script"),
            summary=summary_text(board),
            columns=_columns(board),
            rows=_table_rows(board),
            overall_help=OVERALL_DESCRIPTION,
            charts=[_chart(i, t, board.rows) for i, t in enumerate(board.tasks)],
        )
    )


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
