"""The work-dir lock, with real processes: one holder at a time, stale locks taken over once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearcore.cli import LOCKED
from hearcore.lock import LOCK_FILE, LockHeld, hold_lock, read_holder

# A holder in its own process: takes the lock, says so on stdout, then sleeps until killed.
HOLDER = """
import sys, time
from hearcore.lock import hold_lock
with hold_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(60)
"""
# A racer: waits for the start file, tries the lock once, and prints whether it won; a winner
# keeps the lock a moment, so that a loser that looks late still finds it held.
RACER = """
import os, sys, time
from hearcore.lock import LockHeld, hold_lock
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
try:
    with hold_lock(sys.argv[1], "racer"):
        print("won", flush=True)
        time.sleep(1.0)
except LockHeld as e:
    print("lost", e, flush=True)
"""


def _spawn_holder(folder: Path, what: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), what],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if line.strip() != "held":
        proc.kill()
        raise AssertionError(f"the holder did not take the lock: {line}{proc.stderr.read()}")
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write_record(folder: Path, pid: int, host: str, command: str = "old run") -> Path:
    path = folder / LOCK_FILE
    record = {"pid": pid, "host": host, "started": "2026-01-01 00:00:00", "command": command}
    path.write_text(json.dumps(record))
    return path


def test_second_holder_is_refused_with_the_holders_record(tmp_path):
    holder = _spawn_holder(tmp_path, "python -m hearpreprocess.runner tones --mode=small")
    try:
        with pytest.raises(LockHeld) as caught:
            with hold_lock(tmp_path, "second"):
                pytest.fail("the lock was held twice")
        message = str(caught.value)
        recorded = read_holder(tmp_path / LOCK_FILE)
        assert recorded is not None and recorded.pid == holder.pid
        assert caught.value.code == LOCKED
        for part in (f"pid {holder.pid}", socket.gethostname(), recorded.started, "tones"):
            assert part in message
        assert "wait" in message
    finally:
        _kill(holder)


def test_lock_is_removed_on_exit_and_on_an_exception(tmp_path):
    with hold_lock(tmp_path, "first") as path:
        assert read_holder(path).command == "first"
        assert read_holder(path).pid == os.getpid()
    assert not path.exists()
    with pytest.raises(RuntimeError):
        with hold_lock(tmp_path, "second"):
            raise RuntimeError("the command failed")
    assert list(tmp_path.iterdir()) == []  # no lock, no private record left


def test_the_same_process_cannot_hold_it_twice(tmp_path):
    with hold_lock(tmp_path, "outer"):
        with pytest.raises(LockHeld):
            with hold_lock(tmp_path, "inner"):
                pass
        assert (tmp_path / LOCK_FILE).exists()


def test_lock_of_a_killed_holder_is_taken_over_with_a_warning(tmp_path):
    holder = _spawn_holder(tmp_path, "killed run")
    _kill(holder)
    assert (tmp_path / LOCK_FILE).exists()  # SIGKILL runs no cleanup
    warnings: list[str] = []
    with hold_lock(tmp_path, "new run", warn=warnings.append) as path:
        assert read_holder(path).pid == os.getpid()
    assert len(warnings) == 1
    assert f"pid {holder.pid}" in warnings[0] and "killed run" in warnings[0]
    assert not path.exists()


def test_workers_of_a_killed_holder_keep_the_lock(tmp_path):
    # The holder forks a worker (as Luigi does), prints the worker's pid, and is then killed.
    forking = HOLDER.replace(
        'print("held", flush=True)',
        'pid = os.fork()\n    if pid == 0: time.sleep(60)\n    print("held", pid, flush=True)',
    ).replace("import sys, time", "import os, sys, time")
    proc = subprocess.Popen(
        [sys.executable, "-c", forking, str(tmp_path), "forking run"],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = int(proc.stdout.readline().split()[1])
    try:
        _kill(proc)
        with pytest.raises(LockHeld) as caught:
            with hold_lock(tmp_path, "new run"):
                pytest.fail("the lock was taken from a live worker")
        assert "a process it started" in str(caught.value)
    finally:
        os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10  # the kernel drops the worker's flock once it is dead
    while True:
        try:
            with hold_lock(tmp_path, "new run", warn=lambda line: None):
                return
        except LockHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_reused_pid_does_not_keep_a_stale_lock(tmp_path):
    # The record names a live process that never took the lock (as after a reboot or pid reuse):
    # nobody holds the flock of the file, so the lock is stale.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as unrelated:
        try:
            _write_record(tmp_path, unrelated.pid, socket.gethostname())
            warnings: list[str] = []
            with hold_lock(tmp_path, "new run", warn=warnings.append) as path:
                assert read_holder(path).pid == os.getpid()
            assert len(warnings) == 1 and f"pid {unrelated.pid}" in warnings[0]
        finally:
            unrelated.kill()


def test_two_racers_for_a_stale_lock_never_both_win(tmp_path):
    for attempt in range(4):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        _write_record(folder, _dead_pid(), socket.gethostname())
        start = folder / "start"
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(folder), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        time.sleep(0.5)  # let every racer import and wait at the start line
        start.touch()
        results = [racer.communicate(timeout=60) for racer in racers]
        outcomes = [out.split(" ")[0].strip() for out, _ in results]
        assert sorted(outcomes) == ["lost", "lost", "won"], results
        assert all("is locked by" in out for out, _ in results if out.startswith("lost"))
        assert not (folder / LOCK_FILE).exists()


def test_lock_of_another_host_is_never_taken_over(tmp_path):
    path = _write_record(tmp_path, _dead_pid(), "gone-host.example", "run elsewhere")
    before = path.read_bytes()
    with pytest.raises(LockHeld) as caught:
        with hold_lock(tmp_path, "here"):
            pytest.fail("another host's lock was taken over")
    message = str(caught.value)
    assert "gone-host.example" in message and "run elsewhere" in message
    assert "never taken over automatically" in message and f"remove {path}" in message
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_lock_record_is_refused(tmp_path):
    (tmp_path / LOCK_FILE).write_text("not json")
    with pytest.raises(LockHeld) as caught:
        with hold_lock(tmp_path, "here"):
            pass
    assert "does not hold a lock record" in str(caught.value)
    assert (tmp_path / LOCK_FILE).read_text() == "not json"
