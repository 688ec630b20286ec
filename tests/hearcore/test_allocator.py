"""Freed clip buffers are reused by the process instead of being faulted in again."""

import subprocess
import sys

import pytest

CHILD = """
import resource, sys
import numpy as np
from hearcore.allocator import reuse_freed_memory
if sys.argv[1] == "tuned":
    assert reuse_freed_memory()
def clip(seconds):  # the buffers of one clip: stereo frames, mono mix, a resampled copy
    frames = np.ones((int(seconds * 44100), 2), dtype=np.float32)
    mono = frames.sum(axis=1)
    return np.repeat(mono, 2).sum()

for seconds in (30, 1, 5):  # warm up: the first buffers are faulted in either way
    clip(seconds)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(60):
    clip((30, 1, 5)[i % 3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux's")
def test_freed_buffers_are_not_faulted_in_again():
    default, tuned = _faults("default"), _faults("tuned")
    assert tuned * 20 < default, (tuned, default)


RELEASE_CHILD = """
import numpy as np
from hearcore.allocator import release_free_memory, reuse_freed_memory

def rss_mib():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024

assert reuse_freed_memory()
buffers = [np.ones(2**20) for _ in range(12)]  # 12 x 8 MiB, under the mmap threshold: heap
del buffers
kept = rss_mib()
release_free_memory()
print(kept, rss_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux's")
def test_release_hands_kept_buffers_back():
    out = subprocess.run(
        [sys.executable, "-c", RELEASE_CHILD], capture_output=True, text=True, check=True
    )
    kept, released = map(float, out.stdout.split())
    assert kept - released > 80, (kept, released)
