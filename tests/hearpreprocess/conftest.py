"""Fixtures shared by the runner's tests."""

from __future__ import annotations

import luigi.configuration
import pytest


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
