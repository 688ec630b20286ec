"""One luigid in host A, runners in hosts B and C sharing the work, tasks and tarball folders.

The hosts are network namespaces (tests/namespaces.py); where they cannot be made the same
processes run on loopback, and each test says so (printed, a warning and a recorded property).
The corpora need no internet: the built-in `tones` (each runner serves it on its own loopback)
and a fake `spoken_digit` served from host A by a plain HTTP server bound to A's address.

Checks: two hosts build the graph together with every step run exactly once (luigid's DONE list
against the steps each host timed, and each runner's --summary-json), both exit 0, and the bytes
equal a single-worker local run; and when one host's runner is SIGKILLed mid-step (its process
group), the other finishes the graph within the delays that the shipped luigi.cfg sets for
luigid to judge a worker dead and retry its step.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Iterator

import pytest
import requests
from fakes import make_fake_corpus
from namespaces import Host, Hosts, kill_group, make_hosts

from hearcore.hashing import digest, file_sha256
from hearpreprocess.config import load_task_config
from hearpreprocess.pipeline.base import TIMING_LOG_ENV
from hearpreprocess.publish import INDEX_HTML, INDEX_JSON
from hearpreprocess.runner import LUIGI_CFG

REPO = Path(__file__).resolve().parents[2]
TASKS = ("tones", "spoken_digit")
RUN_TIMEOUT_S = 90.0
# luigid prunes dead workers every 60 s unless prune_on_get_work is set (luigi/server.py).
LUIGID_PRUNE_PERIOD_S = 60.0
# What recovery from a killed host may take at most, on top of luigid's own delays.
RECOVERY_SLACK_S = 45.0
MAX_RECOVERY_S = 120.0
# The fields of a tarball index entry that say when the tarball was written (publish.py).
_BUILD_TIME_KEYS = {"built", "mtime_ns"}

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hosts():
    if shutil.which("luigid") is None:
        pytest.skip("luigid is not installed (pip install luigi)")
    if not LUIGI_CFG.is_file():
        pytest.skip(f"the shipped Luigi config {LUIGI_CFG} is missing")
    with make_hosts(3) as made:
        print(made.describe())
        yield made


@pytest.fixture()
def network(hosts: Hosts, record_property) -> Hosts:
    """The hosts, with how they were made recorded, and a warning when they are not isolated."""
    record_property("hosts", hosts.describe())
    if not hosts.isolated:
        warnings.warn(pytest.PytestWarning(hosts.describe()))
    return hosts


@pytest.fixture(scope="module")
def corpus(hosts: Hosts, tmp_path_factory) -> dict:
    """The fake spoken_digit served from host A; {"mirror": URL, "overrides": TOML path}."""
    root = tmp_path_factory.mktemp("mirror")
    fake = make_fake_corpus(root, load_task_config("spoken_digit", "small"))
    overrides = root.parent / "overrides.toml"
    overrides.write_text(fake.overrides_toml("spoken_digit"))
    a = hosts[0]
    port = _free_port()
    # A plain static server: MirrorServer binds 127.0.0.1 only, which other hosts cannot reach.
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", a.address]
    a.popen(argv + ["--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hosts[1].wait_for_port(a.address, port)
    return {"mirror": f"http://{a.address}:{port}", "overrides": overrides}


@pytest.fixture(scope="module")
def reference(hosts: Hosts, corpus: dict, tmp_path_factory) -> dict[str, str]:
    """sha256 of every bundle and tarball file of a single-worker run on the local scheduler."""
    out = tmp_path_factory.mktemp("reference")
    start = time.monotonic()
    done = hosts[1].run(_runner_argv(out, corpus, "--workers=1"), timeout=RUN_TIMEOUT_S, cwd=REPO)
    assert done.returncode == 0, f"the local reference run failed:\n{done.stdout}\n{done.stderr}"
    REFERENCE_SECONDS.append(time.monotonic() - start)
    return _output_digests(out)


# How long the one-worker reference build took on this machine, under its load at the time: the
# work a surviving host may have left to do after taking over.
REFERENCE_SECONDS: list[float] = []


def _start_luigid(network: Hosts, state: Path, config: Path) -> tuple[str, subprocess.Popen]:
    """luigid in host A with the settings file `config`; its URL and process."""
    a, port = network[0], _free_port()
    state.mkdir()
    argv = ["luigid", "--address", a.address, "--port", str(port), "--logdir", str(state)]
    argv += ["--state-path", str(state / "state.pickle"), "--pidfile", str(state / "pid")]
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    with open(state / "luigid.log", "wb") as log:
        proc = a.popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        network[1].wait_for_port(a.address, port)
    except TimeoutError:
        pytest.fail(f"luigid did not start in host A: {(state / 'luigid.log').read_text()}")
    return f"http://{a.address}:{port}", proc


@pytest.fixture()
def luigid(network: Hosts, tmp_path) -> Iterator[str]:
    """A fresh luigid in host A on the shipped config; its URL."""
    url, proc = _start_luigid(network, tmp_path / "luigid", LUIGI_CFG)
    yield url
    kill_group(proc)


@pytest.fixture()
def impatient_luigid(network: Hosts, tmp_path) -> Iterator[str]:
    """luigid on the shipped config but for its retry delay (1 s instead of 15): a step that
    keeps failing is disabled after retry_count failures within seconds."""
    config = configparser.ConfigParser()
    config.read(LUIGI_CFG)
    config["scheduler"]["retry_delay"] = "1"
    path = tmp_path / "luigi.cfg"
    with open(path, "w") as f:
        config.write(f)
    url, proc = _start_luigid(network, tmp_path / "luigid", path)
    yield url
    kill_group(proc)


def _runner_argv(out: Path, corpus: dict, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "hearpreprocess.runner", *TASKS, "--mode=small"]
    argv += [f"--mirror={corpus['mirror']}", f"--config-overrides={corpus['overrides']}"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    return argv + list(extra)


def _output_digests(out: Path) -> dict[str, str]:
    """sha256 of each file under tasks/ and tar/; the tarball index records when each tarball
    was written, so it is compared without those times (and its HTML rendering not at all)."""
    found = {}
    for sub in ("tasks", "tar"):
        for path in sorted((out / sub).rglob("*")):
            if not path.is_file() or path.name == INDEX_HTML:
                continue
            name = str(path.relative_to(out))
            found[name] = _index_digest(path) if path.name == INDEX_JSON else file_sha256(path)
    assert found, f"no bundle or tarball was written under {out}"
    return found


def _index_digest(path: Path) -> str:
    entries = json.loads(path.read_text())["tarballs"]
    timeless = [{k: v for k, v in e.items() if k not in _BUILD_TIME_KEYS} for e in entries]
    return digest(timeless)


class Runner:
    """One host's runner against luigid: its process, timing log and summary file."""

    def __init__(self, host: Host, out: Path, corpus: dict, scheduler: str):
        self.host = host
        self.timing_log = out / f"steps-{host.label}.jsonl"
        self.summary = out / f"summary-{host.label}.json"
        extra = ["--workers=2", f"--scheduler-url={scheduler}", f"--summary-json={self.summary}"]
        env = {**os.environ, TIMING_LOG_ENV: str(self.timing_log)}
        self.stdout = open(out / f"stdout-{host.label}.txt", "w+")
        self.proc = host.popen(
            _runner_argv(out, corpus, *extra),
            stdout=self.stdout,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
            pytest.fail(f"host {self.host.label}'s runner ran past {timeout:.0f} s:\n{self.output}")

    @property
    def output(self) -> str:
        self.stdout.flush()
        self.stdout.seek(0)
        return self.stdout.read()

    def ran(self) -> list[dict]:
        """The steps this host ran (what each of its workers timed)."""
        if not self.timing_log.exists():
            return []
        lines = self.timing_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def worker_mark(self) -> str:
        """What luigid's worker id of this runner contains (Luigi writes `pid=<pid>` into it)."""
        return f"pid={self.proc.pid})"


def _tasks(scheduler: str, status: str) -> dict[str, dict]:
    answer = requests.get(
        f"{scheduler}/api/task_list", params={"data": json.dumps({"status": status})}, timeout=10
    )
    answer.raise_for_status()
    return answer.json()["response"]


def _check_summary(runner: Runner, scheduler: str, others_ran: set[str]) -> None:
    """The runner's summary agrees with what its workers timed, with its exit code, and names
    as run by other workers only steps that the other host ran."""
    summary = json.loads(runner.summary.read_text())
    assert summary["ok"] is True and summary["exit_code"] == 0, summary
    assert summary["scheduler"] == scheduler
    assert {s["id"] for s in summary["steps"]["ran"]} == {s["id"] for s in runner.ran()}
    by_others = {s["id"] for s in summary["steps"]["run_by_other_workers"]}
    assert by_others <= others_ran, f"not run by the other host: {sorted(by_others - others_ran)}"
    if runner.host.hostname:
        assert summary["host"] == runner.host.hostname


def _start_runners(network: Hosts, out: Path, corpus: dict, scheduler: str) -> list[Runner]:
    return [Runner(host, out, corpus, scheduler) for host in network[1:]]


def test_two_hosts_build_one_graph_once(network, luigid, reference, corpus, tmp_path):
    runners = _start_runners(network, tmp_path, corpus, luigid)
    codes = [r.wait(RUN_TIMEOUT_S) for r in runners]
    for r, code in zip(runners, codes):
        assert code == 0, f"host {r.host.label}'s runner exited {code}:\n{r.output}"
    for r in runners:
        # Often one host runs them all: a step's audio shards are dynamic dependencies, which
        # luigid offers only to the worker that ran the step (see the module's report).
        print(f"host {r.host.label} ran {len(r.ran())} step(s)")
    ran = [step["id"] for r in runners for step in r.ran()]
    twice = sorted({i for i in ran if ran.count(i) > 1})
    assert not twice, f"steps run more than once across hosts: {twice}"
    done = _tasks(luigid, "DONE")
    assert set(ran) == set(done), (
        f"luigid's DONE steps and the steps the hosts ran differ: only in luigid "
        f"{sorted(set(done) - set(ran))}, only in the hosts' logs {sorted(set(ran) - set(done))}"
    )
    assert {"AudioShard", "TaskBundle", "TaskTarball"} <= {t["name"] for t in done.values()}
    assert _output_digests(tmp_path) == reference
    for r, other in zip(runners, reversed(runners)):
        _check_summary(r, luigid, {s["id"] for s in other.ran()})


def recovery_bound_s() -> float:
    """How long the surviving host may take once the other is killed: luigid waits
    worker_disconnect_delay to judge the worker dead (checked on each get_work with
    prune_on_get_work, else every 60 s), then retry_delay before handing its step out again;
    then the survivor does what is left, at most the whole build (timed by the reference run)."""
    config = configparser.ConfigParser()
    config.read(LUIGI_CFG)
    scheduler = config["scheduler"] if config.has_section("scheduler") else {}
    disconnect = float(scheduler.get("worker_disconnect_delay", 60))
    retry = float(scheduler.get("retry_delay", 900))
    on_get_work = str(scheduler.get("prune_on_get_work", "false")).lower() in ("true", "1", "yes")
    handover = disconnect + retry + (0 if on_get_work else LUIGID_PRUNE_PERIOD_S)
    if handover + RECOVERY_SLACK_S > MAX_RECOVERY_S:
        pruning = "" if on_get_work else " + up to 60 s (no prune_on_get_work)"
        pytest.fail(
            f"{LUIGI_CFG} has luigid wait {disconnect:g} s (worker_disconnect_delay) + "
            f"{retry:g} s (retry_delay){pruning} before a killed host's step runs again; "
            "set [scheduler] worker_disconnect_delay and retry_delay to a few seconds and "
            "prune_on_get_work = true"
        )
    return handover + RECOVERY_SLACK_S + max(REFERENCE_SECONDS, default=RUN_TIMEOUT_S)


def _kill_first_running(runners: list[Runner], scheduler: str) -> tuple[Runner, dict]:
    """SIGKILL the process group of the first runner that luigid shows running a step (either
    host may win the first steps); returns it and that step (luigid's record, with its "id")."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        ended = [r for r in runners if r.proc.poll() is not None]
        if ended:
            pytest.fail(f"host {ended[0].host.label} ended before either host was killed")
        for task_id, task in _tasks(scheduler, "RUNNING").items():
            for runner in runners:
                if runner.worker_mark() in (task.get("worker_running") or ""):
                    kill_group(runner.proc)
                    return runner, {"id": task_id, **task}
        time.sleep(0.05)
    pytest.fail(f"neither host ran a step within {RUN_TIMEOUT_S:.0f} s")


def test_killed_host_leaves_the_graph_to_the_other(network, luigid, reference, corpus, tmp_path):
    bound = recovery_bound_s()
    runners = _start_runners(network, tmp_path, corpus, luigid)
    victim, killed = _kill_first_running(runners, luigid)
    (survivor,) = [r for r in runners if r is not victim]
    print(f"killed host {victim.host.label} while it ran {killed['id']}")
    started = time.monotonic()
    # No luigid queries until the survivor ends: each one prunes dead workers, which would
    # shorten the recovery that the shipped config alone must bound.
    code = survivor.wait(bound)
    print(f"host {survivor.host.label} finished {time.monotonic() - started:.1f} s after the kill")
    assert code == 0, f"host {survivor.host.label}'s runner exited {code}:\n{survivor.output}"
    assert killed["id"] in {s["id"] for s in survivor.ran()}, "the killed step was not rerun"
    assert _output_digests(tmp_path) == reference
    _check_summary(survivor, luigid, {s["id"] for s in victim.ran()})


def test_a_step_failed_on_one_host_is_named_by_both(network, impatient_luigid, corpus, tmp_path):
    """spoken_digit's archive fails its checksum on whichever host downloads it: both runners
    exit 1 and name the step, the host that failed it and the error; tones is still built."""
    broken = tmp_path / "broken.toml"
    text = corpus["overrides"].read_text()
    broken.write_text(re.sub(r'md5 = "[0-9a-f]{32}"', 'md5 = "' + "0" * 32 + '"', text))
    runners = _start_runners(network, tmp_path, {**corpus, "overrides": broken}, impatient_luigid)
    codes = [r.wait(RUN_TIMEOUT_S) for r in runners]
    hostnames = {r.host.hostname or socket.gethostname() for r in runners}
    for r, code in zip(runners, codes):
        assert code == 1, f"host {r.host.label}'s runner exited {code}:\n{r.output}"
        summary = json.loads(r.summary.read_text())
        by_task = {b["task"]: b for b in summary["bundles"]}
        failed = by_task["spoken_digit"]
        assert (failed["status"], failed["failed_step"]) == ("failed", "DownloadedFile")
        assert failed["failed_host"] in hostnames, failed
        assert "checksum mismatch" in failed["error"], failed
        assert f"DownloadedFile failed on {failed['failed_host']}" in r.output
        assert by_task["tones"]["status"] in ("built", "up_to_date")
    assert (tmp_path / "tasks" / "tones-v1-small").is_dir()
