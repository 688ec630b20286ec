"""luigid on the shipped luigi.cfg serves Prometheus metrics of the steps a run gave it.

A real luigid on a loopback port, a real runner (`tones`, small, one rate) against it, then a
scrape of /metrics parsed with prometheus_client's own parser: per step family, the done counter
equals the number of steps of that family the run timed, the started counter is at least that,
and nothing failed.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hearpreprocess.pipeline.base import TIMING_LOG_ENV
from hearpreprocess.runner import LUIGI_CFG

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"luigid exited with {proc.returncode}: {log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"luigid did not listen on {port} within {timeout} s: {log.read_text()}")


@pytest.fixture()
def luigid(tmp_path):
    if shutil.which("luigid") is None:
        pytest.skip("luigid is not installed (pip install luigi)")
    pytest.importorskip("prometheus_client", reason="prometheus_client is not installed")
    port, state = _free_port(), tmp_path / "luigid"
    state.mkdir()
    log = state / "luigid.log"
    argv = ["luigid", "--port", str(port), "--address", "127.0.0.1", "--logdir", str(state)]
    argv += ["--state-path", str(state / "state.pickle"), "--pidfile", str(state / "pid")]
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(LUIGI_CFG)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _counters(text: str) -> dict[str, collections.Counter]:
    """Sample name (e.g. luigi_task_done_total) -> Counter of its value per `family` label."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                found[sample.name][sample.labels.get("family", "")] += int(sample.value)
    return found


@pytest.mark.slow
def test_metrics_count_the_steps_of_a_run(luigid, tmp_path):
    timing_log = tmp_path / "steps.jsonl"
    argv = [sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode=small"]
    argv += [f"--{name}-dir={tmp_path / name}" for name in ("work", "tasks", "tar")]
    argv += ["--sample-rate=16000", "--workers=2", f"--scheduler-url={luigid}"]
    env = {**os.environ, TIMING_LOG_ENV: str(timing_log)}
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    ran = collections.Counter(
        json.loads(line)["step"] for line in timing_log.read_text().splitlines()
    )
    assert {"DownloadedFile", "AudioShard", "TaskBundle", "TaskTarball"} <= set(ran)

    scrape = requests.get(f"{luigid}/metrics", timeout=10)
    scrape.raise_for_status()
    assert scrape.text.strip(), (
        f"luigid serves no metrics at /metrics: {LUIGI_CFG} needs [scheduler] "
        "metrics_collector = prometheus"
    )
    assert scrape.headers["Content-Type"].startswith("text/plain"), scrape.headers
    counters = _counters(scrape.text)
    assert counters["luigi_task_done_total"] == ran, scrape.text
    # A step that yields dynamic dependencies (TaskBundle its audio shards) is started again
    # once they are done, so it can count more starts than runs; every other step starts once.
    started = counters["luigi_task_started_total"]
    assert set(started) == set(ran), scrape.text
    assert all(started[f] >= n for f, n in ran.items()), scrape.text
    assert sum(started[f] > n for f, n in ran.items()) <= 1, scrape.text
    assert not +counters["luigi_task_failed_total"], scrape.text
