"""The shared retry policy: how many attempts, what is retried, what is raised."""

import pytest

from hearcore.retry import Transient, with_retries


def _flaky(failures, error=Transient):
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) <= failures:
            raise error(f"attempt {len(calls)} failed")
        return "done"

    return attempt, calls


def test_transient_failures_are_retried_until_one_succeeds():
    attempt, calls = _flaky(2)
    assert with_retries(attempt, retries=2, backoff=0) == "done" and len(calls) == 3


def test_the_last_transient_error_is_raised_when_retries_run_out():
    attempt, calls = _flaky(5)
    with pytest.raises(Transient, match="attempt 3 failed"):
        with_retries(attempt, retries=2, backoff=0)
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    attempt, calls = _flaky(5, error=ValueError)
    with pytest.raises(ValueError):
        with_retries(attempt, retries=4, backoff=0)
    assert len(calls) == 1
