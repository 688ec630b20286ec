"""Two runs on one work dir without luigid: the second is refused (exit 5) naming the holder,
and the lock of a run killed with SIGKILL is taken over by the next."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hearcore.cli import LOCKED, OK, run_command
from hearcore.lock import LOCK_FILE
from hearpreprocess import runner

# Holds the work dir's lock as a run would, until killed.
_HOLDER = """
import sys, time
from hearcore.lock import hold_lock
with hold_lock(sys.argv[1], "python -m hearpreprocess.runner all (test holder)"):
    print("holding", flush=True)
    time.sleep(600)
"""


def _argv(tmp_path: Path) -> list[str]:
    return ["tones", "--mode=small", "--sample-rate=16000", "--workers=1"] + [
        f"--{name}-dir={tmp_path / name}" for name in ("work", "tasks", "tar")
    ]


def _hold(work_dir: Path) -> subprocess.Popen:
    work_dir.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(work_dir)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_run_is_refused_naming_the_holder(tmp_path, capsys):
    holder = _hold(tmp_path / "work")
    try:
        assert run_command(runner.main, _argv(tmp_path)) == LOCKED
        err = capsys.readouterr().err
        assert str(holder.pid) in err and socket.gethostname() in err
        assert "test holder" in err
        assert not (tmp_path / "tasks").exists(), "a refused run must not start any step"
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, capsys):
    holder = _hold(tmp_path / "work")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "work" / LOCK_FILE).exists()
    assert run_command(runner.main, _argv(tmp_path)) == OK
    assert str(holder.pid) in capsys.readouterr().err  # the takeover warning names it
    assert not (tmp_path / "work" / LOCK_FILE).exists(), "a finished run releases its lock"
