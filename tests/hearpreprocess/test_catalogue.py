"""The catalogue: `runner list`, the README's generated table, and extra tasks outside `all`."""

import subprocess
import sys
from pathlib import Path

from hearpreprocess import catalogue, runner
from hearpreprocess.config import is_extra_task, list_modes, list_tasks, read_recipe

REPO = Path(__file__).resolve().parents[2]


def test_runner_list_prints_every_task_with_version_and_modes():
    proc = subprocess.run(
        [sys.executable, "-m", "hearpreprocess.runner", "list"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(list_tasks())
    for task, line in zip(list_tasks(), lines):
        raw = read_recipe(task)
        assert line.split()[:2] == [task, raw["version"]]
        for mode in list_modes(task):
            assert (f"{mode}*" if mode == raw["default_mode"] else mode) in line
        assert ("extra" in line) == is_extra_task(task)


def test_readme_task_table_is_generated_from_the_tomls():
    assert catalogue.main(["--check", str(REPO / "README.md")]) == 0
    rows = [line for line in catalogue.markdown_table().splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0].strip("| ").split(" ")[0] for row in rows[1:]] == list_tasks()


def test_check_reports_a_stale_table(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(f"intro\n{catalogue.BEGIN}\n| old |\n{catalogue.END}\nrest\n")
    assert catalogue.main(["--check", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert catalogue.main(["--write", str(stale)]) == 0
    assert catalogue.main(["--check", str(stale)]) == 0
    assert stale.read_text().startswith("intro\n") and stale.read_text().endswith("rest\n")


def test_all_leaves_out_extra_tasks_unless_asked():
    extra = {t for t in list_tasks() if is_extra_task(t)}
    assert {"tones", "spoken_digit"} <= extra
    plain, _ = runner.resolve_configs(runner.parse_args(["all"]))
    assert not {c.task_name for c in plain} & extra
    both, _ = runner.resolve_configs(runner.parse_args(["all", "--include-extra"]))
    assert {c.task_name for c in both} == set(list_tasks())
    named, _ = runner.resolve_configs(runner.parse_args(["spoken_digit"]))
    assert [c.task_name for c in named] == ["spoken_digit"]
