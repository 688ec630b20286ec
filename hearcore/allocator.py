"""Keeping freed buffers in the process instead of handing them back to the kernel.

Every clip allocates and frees the same few buffers (decoded frames, the mono mix, five
resampled copies). glibc serves buffers above its mmap threshold (128 KiB, rising at most to the
largest freed one) with fresh mmap'd pages and trims the heap top when 128 KiB is free, so each clip
faults its buffers in again. Measured on the 1,000 one-second clips of the throughput benchmark:
~500 page faults per clip, and 25 % of the loop's time; the cost is larger on virtual machines,
where a page fault is expensive. With buffers served from the heap and the heap kept, the loop
faults ~500 times in all; peak memory is the largest clip's working set, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Buffers up to this size come from the heap: a 30-s 44.1 kHz stereo clip as float64 is 21 MiB.
MMAP_THRESHOLD = 64 * 2**20
# Free memory at the heap top is given back only beyond this.
TRIM_THRESHOLD = 512 * 2**20


def reuse_freed_memory() -> bool:
    """Tune glibc's malloc so freed buffers are reused; False where there is no glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def release_free_memory() -> None:
    """Hand the heap's free memory back to the kernel (glibc's malloc_trim), so that resident
    memory measured next counts only what is in use; a no-op without glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (has mallopt and malloc_trim), else None (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
