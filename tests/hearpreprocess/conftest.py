"""Fixtures shared by the runner's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import luigi.configuration
import pytest
from tones_mirror import BUILT_RATES, BUNDLE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def fast_retries():
    """Downloads give up fast against loopback servers: one retry, a 10 ms backoff, 5 s timeout."""
    config = luigi.configuration.get_config()
    if not config.has_section("download"):
        config.add_section("download")
    config.set("download", "retries", "1")
    config.set("download", "backoff", "0.01")
    config.set("download", "timeout", "5")
    yield
    config.remove_section("download")


@pytest.fixture(scope="module")
def built_tones(tmp_path_factory) -> tuple[Path, Path]:
    """The built-in tones bundle (small, at BUILT_RATES) and its tarball folder, built by the
    real runner in a subprocess; once per test module."""
    out = tmp_path_factory.mktemp("built")
    argv = [sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode=small", "--workers=1"]
    argv += [f"--sample-rate={sr}" for sr in BUILT_RATES]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "tasks" / BUNDLE, out / "tar"
