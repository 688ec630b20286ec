"""Kill the runner with SIGKILL at random moments, rerun it, and check that nothing was lost.

A machine crash stops every process at once, half-written files and all. This soak stands in for
one: it starts `python -m hearpreprocess.runner` in a session of its own and, at a moment drawn
from the measured length of a clean run, kills the whole process group (the runner and its Luigi
worker processes) with SIGKILL. Then it reruns the same command, which may itself be killed, until
a run ends by itself. That run must exit 0, and its task bundles and tarballs must be
sha256-identical to those of a clean, uninterrupted run, with no temporary or other stray file
beside them. Then a fresh set of folders starts the next round, until enough kills have landed.

    python benchmarks/kill_soak.py [--kills 200] [--seed N] [--task tones] [--workers 2]
                                   [--scheduler local|luigid]

It prints the seed (--seed replays the same kill moments), the counts of kills, reruns and
mismatches, and exits 1 on any mismatch or failed rerun. test_kill_resume.py runs it with 20 kills.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import ctypes
import functools
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
PROJECT_LUIGI_CFG = REPO / "configs" / "luigi.cfg"
OUTPUT_FOLDERS = ("tasks", "tar")
# A run that neither ends nor is killed within this time is stuck: that is a finding too.
RUN_TIMEOUT_S = 300.0
# After this many kills in one round its next run is left to end by itself: a run that never
# ends (stuck waiting on a dead worker's step) must show up as a failure, not as endless kills.
MAX_KILLS_PER_ROUND = 6
_PR_SET_CHILD_SUBREAPER = 36
# Scheduler settings for the luigid rounds, on top of the project's luigi.cfg. A killed worker
# stops pinging; luigid must notice within a second and offer its running steps again half a
# second later, or every kill would cost the soak the production delays (20 s + 15 s). The same
# step may be killed many times in one soak, so it must not be disabled after 3 failures. The
# runner's workers wait for steps a dead worker held (keep_alive) instead of exiting "not done".
LUIGID_SETTINGS = {
    "worker": {"keep_alive": "true", "wait_interval": "0.2", "wait_jitter": "0.2"},
    "scheduler": {
        "worker_disconnect_delay": "1",
        "retry_delay": "0.5",
        "prune_on_get_work": "true",
        "retry_count": "1000",
    },
}


@dataclass
class SoakResult:
    """What a soak did; `ok` when every rerun ended well and every output matched."""

    seed: int
    clean_seconds: float = 0.0
    kills: int = 0
    reruns: int = 0
    rounds: int = 0
    failed_runs: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed_runs and not self.mismatches

    def summary(self) -> str:
        return (
            f"seed {self.seed}: {self.kills} kills, {self.reruns} reruns, {self.rounds} rounds, "
            f"{len(self.failed_runs)} failed reruns, {len(self.mismatches)} mismatches "
            f"(clean run {self.clean_seconds:.1f} s)"
        )


def runner_command(
    task: str, out: Path, workers: int, scheduler_url: str | None, extra: list[str]
) -> list[str]:
    """The runner command that builds `task` (small mode, 2 rates) into out/{work,tasks,tar}."""
    argv = [sys.executable, "-m", "hearpreprocess.runner", task, "--mode=small"]
    argv += ["--sample-rate=16000", "--sample-rate=22050", f"--workers={workers}"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    if scheduler_url:
        argv.append(f"--scheduler-url={scheduler_url}")
    return argv + extra


def start_runner(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start the runner in a new session, so that killing its process group also kills the
    Luigi worker processes it forks, as a crash of the machine would."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux PR_SET_CHILD_SUBREAPER);
    False where unsupported. After a crash no process of the run is left, but a SIGKILLed
    runner's Luigi workers stay zombies until an init reaps them, which some containers' PID 1
    never does (hearcore.atomic then takes their temporaries for live writers')."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def group_members(pgid: int) -> list[int]:
    """The processes of process group `pgid`, from /proc (empty where /proc is missing)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp
                members.append(int(stat.parent.name))
    return members


def kill_group(proc: subprocess.Popen, reap: bool = False) -> None:
    """SIGKILL the runner's whole process group and reap the runner; with `reap` (this process
    is a subreaper, see become_subreaper) reap its orphaned workers too."""
    members = group_members(proc.pid) if reap else []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pid in members:
        if pid != proc.pid:
            _reap(pid)


def _reap(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:  # not handed to us yet, or reaped already
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.01)


def wait_or_kill(proc: subprocess.Popen, delay: float, reap: bool = False) -> bool:
    """Let the runner go on for `delay` seconds, then kill it; True when the kill landed (the
    run had not ended by itself)."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        kill_group(proc, reap)
    else:
        # The runner is gone; a worker of its group might not be: take it with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode == -signal.SIGKILL


def finish(proc: subprocess.Popen, timeout: float = RUN_TIMEOUT_S) -> int:
    """Wait for the runner to end by itself; a stuck run is killed and counts as failed."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return -1


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every file under out/tasks and out/tar, hidden ones included; folders map to
    "dir" so that a stray empty folder shows too."""
    found: dict[str, str] = {}
    for name in OUTPUT_FOLDERS:
        root = out / name
        for folder, dirs, files in os.walk(root):
            for d in dirs:
                found[(Path(folder) / d).relative_to(out).as_posix()] = "dir"
            for f in files:
                path = Path(folder) / f
                found[path.relative_to(out).as_posix()] = _sha256(path)
    return found


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def byte_compared(relpath: str) -> bool:
    """Whether an output must match the clean run byte for byte: every bundle file, the tarballs
    and their SHA256SUMS; not the tarball folder's publication index (index.json, index.html),
    which records when each tarball was built. Those are checked by name, and JSON must parse."""
    if relpath.startswith("tasks/"):
        return True
    return relpath.endswith(".tar.gz") or relpath.endswith("SHA256SUMS")


def compare(reference: dict[str, str], actual: dict[str, str], out: Path) -> list[str]:
    """One line per difference: missing outputs, stray files (temporaries), differing bytes,
    JSON that does not parse."""
    lines = [f"missing {p}" for p in sorted(reference.keys() - actual.keys())]
    lines += [f"stray {p}" for p in sorted(actual.keys() - reference.keys())]
    for p in sorted(reference.keys() & actual.keys()):
        if byte_compared(p) and reference[p] != actual[p]:
            lines.append(f"differs {p}")
        elif p.endswith(".json") and not _parses(out / p):
            lines.append(f"unreadable {p}")
    return lines


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def write_luigid_config(path: Path) -> Path:
    """The project's luigi.cfg with LUIGID_SETTINGS in place of its own values."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(PROJECT_LUIGI_CFG, encoding="utf-8")
    for section, values in LUIGID_SETTINGS.items():
        if not config.has_section(section):
            config.add_section(section)
        for key, value in values.items():
            config.set(section, key, value)
    with open(path, "w", encoding="utf-8") as f:
        config.write(f)
    return path


@contextlib.contextmanager
def running_luigid(state: Path, config: Path, timeout: float = 30.0) -> Iterator[str]:
    """A real luigid on a free loopback port, reading `config`; yields its URL."""
    luigid = shutil.which("luigid")
    if luigid is None:
        raise FileNotFoundError("luigid is not installed (pip install luigi)")
    state.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [luigid, "--port", str(port), "--address", "127.0.0.1", "--logdir", str(state)]
    argv += ["--pidfile", str(state / "pid"), "--state-path", str(state / "state.pickle")]
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    log = open(state / "luigid.out", "wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"luigid did not start on port {port}: {_tail(state / 'luigid.out')}"
                )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Soak:
    """One soak: a command per output folder, the environment its runs get, where to log."""

    command: Callable[[Path], list[str]]
    env: dict[str, str]
    root: Path
    result: SoakResult
    reap: bool = False
    running: subprocess.Popen | None = None  # killed if the soak itself is stopped
    reference: dict[str, str] = field(default_factory=dict)

    def clean_run(self) -> None:
        """The uninterrupted run every round is compared with; its length bounds kill moments."""
        out = self.root / "clean"
        started = time.monotonic()
        proc = start_runner(self.command(out), self.root / "clean.log", self.env)
        code = finish(proc)
        self.result.clean_seconds = time.monotonic() - started
        if code != 0:
            raise RuntimeError(f"the clean run failed ({code}):\n{_tail(self.root / 'clean.log')}")
        self.reference = snapshot(out)

    def round(self, number: int, rng: random.Random) -> None:
        """Fresh folders; kill runs at random moments until one ends by itself; check it."""
        out = self.root / f"round{number}"
        run = 0
        while True:
            log = self.root / f"round{number}-run{run}.log"
            proc = start_runner(self.command(out), log, self.env)
            self.running = proc
            if run == MAX_KILLS_PER_ROUND:
                code = finish(proc)
                break
            delay = rng.uniform(0.0, self.result.clean_seconds)
            started = time.monotonic()
            killed = wait_or_kill(proc, delay, self.reap)
            if not killed:
                if run == 0:  # a whole run: the clean run's length, measured again (load varies)
                    elapsed = time.monotonic() - started
                    self.result.clean_seconds = min(self.result.clean_seconds, elapsed)
                code = proc.returncode
                break
            self.result.kills += 1
            self.result.reruns += 1
            run += 1
        self.result.rounds += 1
        if code != 0:
            self.result.failed_runs.append(f"round {number} run {run}: exit {code}\n{_tail(log)}")
        found = compare(self.reference, snapshot(out), out)
        mismatches = [f"round {number}: {line} (kept in {out})" for line in found]
        self.result.mismatches += mismatches
        if code == 0 and not mismatches:  # a failed round's folders stay, to look into
            shutil.rmtree(out, ignore_errors=True)


def soak(
    kills: int,
    seed: int,
    root: Path,
    command: Callable[[Path], list[str]],
    env: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda line: None,
    reap: bool = True,
) -> SoakResult:
    """Kill `command` (given the output folder, the runner's argv) `kills` times or more;
    `reap`: reap the killed workers as a crash leaves none (see become_subreaper)."""
    reap = reap and become_subreaper()
    state = Soak(command, {**os.environ, **(env or {})}, root, SoakResult(seed), reap)
    state.clean_run()
    rng = random.Random(seed)
    number = 0
    try:
        while state.result.kills < kills:
            state.round(number, rng)
            progress(state.result.summary())
            number += 1
    finally:
        if state.running is not None and state.running.poll() is None:
            kill_group(state.running, reap)
    return state.result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--kills", type=int, default=200, help="kills to land (default 200)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: drawn, printed)")
    p.add_argument("--task", default="tones", help="task to build in small mode (default tones)")
    p.add_argument("--workers", type=int, default=2, help="runner --workers (default 2)")
    p.add_argument("--scheduler", choices=("local", "luigid"), default="local")
    p.add_argument(
        "--no-reap",
        action="store_true",
        help="leave killed workers to this machine's init (zombies where it reaps none)",
    )
    p.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp dir)")
    p.add_argument(
        "--runner-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra runner argument, e.g. --runner-arg=--mirror=URL (repeat for several)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the runner it started too
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    print(f"seed {seed}", flush=True)
    with contextlib.ExitStack() as stack:
        root = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        root.mkdir(parents=True, exist_ok=True)
        env: dict[str, str] = {}
        url = None
        if args.scheduler == "luigid":
            config = write_luigid_config(root / "luigi.cfg")
            url = stack.enter_context(running_luigid(root / "luigid", config))
            env["LUIGI_CONFIG_PATH"] = str(config)

        def command(out: Path) -> list[str]:
            return runner_command(args.task, out, args.workers, url, args.runner_arg)

        show = functools.partial(print, flush=True)
        result = soak(args.kills, seed, root, command, env, show, reap=not args.no_reap)
    print(f"kills: {result.kills}")
    print(f"reruns: {result.reruns}")
    print(f"failed reruns: {len(result.failed_runs)}")
    print(f"mismatches: {len(result.mismatches)}")
    for line in result.failed_runs + result.mismatches:
        print(line)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
