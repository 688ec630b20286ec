"""One retry policy for everything fetched over HTTP: downloads and API reads.

An attempt that fails in a way another attempt may fix raises `Transient`; `with_retries` runs it
again after `backoff * 2**(n - 1)` seconds (at most MAX_BACKOFF), and gives up with the last
`Transient` after `retries` retries. The waiting and counting are tenacity's.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import tenacity

# Worth another try: the server or something in between is having trouble.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF = 60.0

T = TypeVar("T")


class Transient(Exception):
    """An attempt failed in a way that another attempt may fix."""


def with_retries(attempt: Callable[[], T], retries: int, backoff: float) -> T:
    """`attempt()`, tried up to `retries + 1` times while it raises `Transient`.

    Raises:
        Transient: the last attempt's, when every attempt failed; any other exception at once.
    """
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential(multiplier=backoff, max=MAX_BACKOFF),
        retry=tenacity.retry_if_exception_type(Transient),
        reraise=True,
    )
    return retrying(attempt)
