"""kill -9 of the runner at random moments: every rerun completes, and nothing is lost or left.

The soak itself is benchmarks/kill_soak.py (see its docstring), run here as a command with fewer
kills: 15 with Luigi's local scheduler and 5 as a worker of a real luigid, each at a moment drawn
from the measured length of a clean run of the built-in `tones` task (small mode, 2 rates,
--workers 2). It runs in a process of its own because it makes itself the reaper of the killed
runners' orphaned workers (PR_SET_CHILD_SUBREAPER), which must not leak into this test session.

The seed is drawn afresh each run and printed; HEAR_KILL_SEED=N replays one.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks.kill_soak import compare, snapshot
from hearcore.atomic import remove_stale_temporaries, temporary_writer

REPO = Path(__file__).resolve().parents[2]
SOAK = REPO / "benchmarks" / "kill_soak.py"
SEED = int(os.environ.get("HEAR_KILL_SEED") or random.SystemRandom().randrange(1 << 32))


def _soak(tmp_path: Path, kills: int, scheduler: str, timeout: float) -> dict[str, int]:
    """Run the soak; fail with its output unless it exits 0; return its final counts."""
    print(f"kill soak seed {SEED} ({scheduler}); replay with HEAR_KILL_SEED={SEED}")
    argv = [sys.executable, str(SOAK), f"--kills={kills}", f"--seed={SEED}", "--workers=2"]
    argv += [f"--scheduler={scheduler}", f"--out={tmp_path / 'soak'}", "--task=tones"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"seed {SEED} (HEAR_KILL_SEED={SEED} replays it):\n{output}"
    counts = dict(re.findall(r"^(kills|reruns|mismatches): (\d+)$", done.stdout, re.M))
    return {name: int(value) for name, value in counts.items()}


@pytest.mark.slow
def test_kills_with_the_local_scheduler_lose_nothing(tmp_path):
    counts = _soak(tmp_path, kills=15, scheduler="local", timeout=150)
    assert counts["kills"] >= 15 and counts["reruns"] >= counts["kills"]
    assert counts["mismatches"] == 0


@pytest.mark.slow
def test_kills_of_a_luigid_worker_lose_nothing(tmp_path):
    if shutil.which("luigid") is None:
        pytest.skip("luigid is not installed (pip install luigi)")
    counts = _soak(tmp_path, kills=5, scheduler="luigid", timeout=150)
    assert counts["kills"] >= 5 and counts["mismatches"] == 0


def test_the_comparison_sees_strays_missing_and_changed_outputs(tmp_path):
    """The soak's check can fail: a temporary beside the outputs, a lost file, other bytes."""
    (tmp_path / "tasks/b/16000").mkdir(parents=True)
    (tmp_path / "tar").mkdir()
    (tmp_path / "tasks/b/16000/x.wav").write_bytes(b"RIFF1")
    (tmp_path / "tar/hear-b-16000.tar.gz").write_bytes(b"tar")
    reference = snapshot(tmp_path)
    assert compare(reference, snapshot(tmp_path), tmp_path) == []
    (tmp_path / "tar/.tmp-1@host-0123abcd~hear-b-16000.tar.gz").write_bytes(b"ta")
    (tmp_path / "tasks/b/16000/x.wav").write_bytes(b"RIFF2")
    (tmp_path / "tar/hear-b-16000.tar.gz").unlink()
    assert compare(reference, snapshot(tmp_path), tmp_path) == [
        "missing tar/hear-b-16000.tar.gz",
        "stray tar/.tmp-1@host-0123abcd~hear-b-16000.tar.gz",
        "differs tasks/b/16000/x.wav",
    ]


# A writer (like a Luigi worker) forked by a parent (like the runner), writing one output through
# hearcore.atomic and then stopped in the middle, as SIGKILL stops it.
_WRITER = textwrap.dedent("""
    import os, sys, time
    from hearcore.atomic import atomic_path
    if os.fork() == 0:
        with atomic_path(sys.argv[1]) as tmp:
            tmp.write_bytes(b"half")
            print(os.getpid(), flush=True)
            time.sleep(600)
    time.sleep(600)
    """)


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_a_killed_writer_left_as_a_zombie_counts_as_gone(tmp_path):
    final = tmp_path / "tasks" / "bundle.json"
    final.parent.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(final)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=REPO,
    )
    writer = int(proc.stdout.readline())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)  # time for an init that reaps orphans to do so
    if _state(writer) != "Z":
        pytest.skip("this machine's init reaped the killed writer at once: no zombie to test")
    [temporary] = [p for p in final.parent.iterdir() if temporary_writer(p)]
    assert remove_stale_temporaries(final) == [temporary]
    assert not temporary.exists()
