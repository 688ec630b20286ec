"""Measuring the memory a model call needs, and the process's peak memory, on CPU and CUDA."""

from __future__ import annotations

import resource
import sys
from typing import Callable

import torch

from hearcore.allocator import release_free_memory

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
# getrusage's peak is lowered when the high-water mark is reset for a measurement; remember it.
_peak_before_reset = 0


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes.

    Linux: VmHWM, the high-water mark of this process's own memory. getrusage's ru_maxrss is not
    used there: it survives fork and exec, so a runner started by a large parent would report the
    parent's peak (the embeddings benchmark did: 699 MB for a 288 MB run).
    """
    try:
        own = _status_kb("VmHWM") * 1024
    except OSError:
        scale = 1 if sys.platform == "darwin" else 1024
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return max(_peak_before_reset, own)


def call_cost_bytes(fn: Callable[[], object], device: torch.device) -> int | None:
    """Extra memory `fn()` needs at its peak, or None where this cannot be measured.

    CUDA: `max_memory_allocated` above what was allocated before. CPU (Linux): the resident-set
    high-water mark above the current RSS, after resetting the mark through /proc/self/clear_refs.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - base)
    global _peak_before_reset
    try:
        _peak_before_reset = peak_rss_bytes()
        # Freed buffers kept for reuse (hearcore.allocator) would hide part of the cost.
        release_free_memory()
        base = _status_kb("VmRSS")
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        fn()
        return max(0, _status_kb("VmHWM") - base) * 1024
    except OSError:
        fn()
        return None


def _status_kb(field: str) -> int:
    with open(_STATUS) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in {_STATUS}")
