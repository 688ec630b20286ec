"""The shipped Luigi settings: found by an installed package, fit for hosts that die, and the
same exit codes as the runner's."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hearcore import cli
from hearpreprocess import runner
from hearpreprocess.build import LUIGI_CFG

REPO = Path(__file__).resolve().parents[2]
# What a source distribution needs to build the wheel.
_SOURCES = ("hearcore", "hearpreprocess", "heareval", "setup.cfg", "pyproject.toml", "README.md")


def _settings() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    assert parser.read(LUIGI_CFG) == [str(LUIGI_CFG)]
    return parser


def test_the_checkout_link_and_the_command_name_the_shipped_file(capsys):
    assert (REPO / "configs" / "luigi.cfg").resolve() == LUIGI_CFG.resolve()
    assert runner.main(["luigi-config"]) == cli.OK
    assert Path(capsys.readouterr().out.strip()) == LUIGI_CFG


def test_retcodes_are_the_runner_exit_codes():
    retcode = _settings()["retcode"]
    assert int(retcode["already_running"]) == cli.LOCKED
    for outcome in ("task_failed", "missing_data", "not_run", "scheduling_error"):
        assert int(retcode[outcome]) == cli.FAILED, outcome
    assert int(retcode["unhandled_exception"]) != cli.OK


def test_a_dead_workers_step_is_handed_over_within_a_minute():
    scheduler = _settings()["scheduler"]
    handover = float(scheduler["worker_disconnect_delay"]) + float(scheduler["retry_delay"])
    assert handover <= 60, f"a dead host's step waits {handover} s for another worker"
    assert scheduler.getboolean("prune_on_get_work")
    # A step that keeps failing is given up on (the waiting workers then exit non-zero).
    assert int(scheduler["retry_count"]) <= 5
    assert scheduler["metrics_collector"] == "prometheus"


def test_luigi_reads_the_settings_the_runner_loads():
    import luigi.scheduler

    runner.load_luigi_config(None)
    expected = _settings()["scheduler"]
    config = luigi.scheduler.scheduler()
    assert config.retry_delay == float(expected["retry_delay"])
    assert config.worker_disconnect_delay == float(expected["worker_disconnect_delay"])


def test_a_missing_settings_file_is_not_found(tmp_path, capsys):
    argv = ["tones", f"--luigi-config={tmp_path / 'nope.cfg'}", f"--work-dir={tmp_path}"]
    assert cli.run_command(runner.main, argv) == cli.NOT_FOUND
    assert "nope.cfg does not exist; fix --luigi-config" in capsys.readouterr().err


@pytest.mark.slow
def test_an_installed_wheel_finds_its_settings(tmp_path):
    source = tmp_path / "source"
    for name in _SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name)  # type: ignore[operator]
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("*.whl")
    assert "hearpreprocess/luigi.cfg" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
        + [str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("LUIGI_CONFIG_PATH", None)
    out = subprocess.run(
        [sys.executable, "-m", "hearpreprocess.runner", "luigi-config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(out).is_relative_to(target) and Path(out).is_file()
