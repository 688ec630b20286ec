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

# mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Buffers up to this size come from the heap: a 30-s 44.1 kHz stereo clip as float64 is 21 MiB.
MMAP_THRESHOLD = 64 * 2**20
# Free memory at the heap top is given back only beyond this.
TRIM_THRESHOLD = 512 * 2**20


def reuse_freed_memory() -> bool:
    """Tune glibc's malloc so freed buffers are reused; False where there is no glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def release_free_memory() -> None:
    """Hand the heap's free memory back to the kernel (glibc's malloc_trim), so that resident
    memory measured next counts only what is in use; a no-op without glibc."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass
