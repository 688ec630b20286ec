"""Calling a HEAR model on batches within a memory budget, and on long clips in chunks.

Batch size: a probe call on two short clips measures the model's working memory per audio second
(see `memory.call_cost_bytes`); a batch is as many clips as fit the budget, at least one.

Chunks (timestamp embeddings only): a clip longer than the chunk length is cut into consecutive
chunks of `chunk` samples. Each chunk is run with `context` samples of the neighbouring audio on
both sides, its timestamps are shifted by where its input starts, and only the frames whose
timestamps fall in the chunk's own range are kept, so the stitched frames have no gaps and no
duplicates. Chunk and context are whole multiples of the model's hop in samples (the smallest
multiple that is an integer number of samples), so every chunk's frames sit on the unchunked frame
grid and chunked and unchunked embeddings agree, provided the context covers the model's receptive
field and the model does not normalise over the whole clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from heareval.embeddings.memory import call_cost_bytes

PROBE_SECONDS = 2.0
# Covers the unmeasured overheads (allocator slack, output copies) on top of the probe's peak.
SAFETY = 1.25
# Timestamps within this many ms of a chunk border are on it (float shifts of whole hops).
BORDER_TOL_MS = 1e-3
# Largest deviation from the regular hop accepted in stitched timestamps (hear-validator's rule).
HOP_TOL_MS = 1.0


@dataclass
class Plan:
    """What the probe decided. Sizes in samples at the model rate."""

    bytes_per_second: float
    measured: bool
    hop_ms: float | None = None
    align: int = 1


class Extractor:
    """Runs one loaded HEAR model on clips of one task within a memory budget."""

    def __init__(
        self,
        module,
        model,
        device: torch.device,
        is_event: bool,
        memory_budget_mb: float = 512,
        batch_size: int | None = None,
        chunk_seconds: float | None = None,
        context_seconds: float = 1.0,
    ):
        self.module, self.model, self.device = module, model, device
        self.is_event = is_event
        self.sr = int(model.sample_rate)
        self.budget = memory_budget_mb * 2**20
        self.batch_size_override = batch_size
        self.chunk_seconds = chunk_seconds
        self.context_seconds = context_seconds
        self.plan: Plan | None = None

    # -- model calls ---------------------------------------------------------------------------
    def call(self, audio: np.ndarray):
        """Embeddings of a (B, N) batch: scene (B, D), or event ((B, T, D), (B, T) ms)."""
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            if self.is_event:
                emb, ts = self.module.get_timestamp_embeddings(x, self.model)
                return _numpy(emb), _numpy(ts, np.float64)
            return _numpy(self.module.get_scene_embeddings(x, self.model))

    def probe(self) -> Plan:
        """Measure the working memory per audio second, and the hop of timestamp models."""
        n = int(PROBE_SECONDS * self.sr)
        noise = np.random.default_rng(0).uniform(-1, 1, (2, n)).astype(np.float32)
        self.call(noise[:1, : n // 4])  # one-time set-up (caches, lazy buffers) is not per clip
        result: dict[str, Any] = {}
        cost = call_cost_bytes(lambda: result.setdefault("out", self.call(noise)), self.device)
        out = result["out"]
        emb = out[0] if self.is_event else out
        floor = noise.nbytes * 3 + emb.nbytes * 2
        per_sec = max(cost or 0, floor) * SAFETY / (2 * PROBE_SECONDS)
        # The measurement is noisy (±30 % between runs); rounding it up to a power of two makes
        # batch sizes and chunk lengths, and so the output bytes, the same from run to run.
        per_sec = 2.0 ** math.ceil(math.log2(per_sec))
        self.plan = Plan(bytes_per_second=per_sec, measured=cost is not None)
        if self.is_event and out[1].shape[1] > 1:
            self.plan.hop_ms = float(np.mean(np.diff(out[1][0])))
            self.plan.align = _align_samples(self.plan.hop_ms, self.sr)
        return self.plan

    def _probed(self) -> Plan:
        """`plan`, set by `probe()`, which runs before any batch or chunk is sized."""
        assert self.plan is not None, "Extractor.probe() must run before batches are sized"
        return self.plan

    # -- sizes ---------------------------------------------------------------------------------
    def batch_size(self, n_samples: int) -> int:
        """Clips of `n_samples` per call: the override, or as many as fit the budget (>= 1)."""
        if self.batch_size_override:
            return self.batch_size_override
        per_clip = self._probed().bytes_per_second * n_samples / self.sr
        return max(1, int(self.budget // per_clip))

    def chunk_samples(self) -> tuple[int, int]:
        """(chunk, context) in samples, multiples of the hop alignment."""
        plan = self._probed()
        align = plan.align
        context = _round_up(int(math.ceil(self.context_seconds * self.sr)), align)
        if self.chunk_seconds is not None:
            chunk = int(round(self.chunk_seconds * self.sr))
        else:
            chunk = int(self.budget / plan.bytes_per_second * self.sr) - 2 * context
            chunk = max(chunk, 4 * context)
        return max(align, chunk // align * align), context

    # -- clips ---------------------------------------------------------------------------------
    def embed_batch(self, clips: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per clip of an equal-length (B, N) batch: (rows (T, D), timestamps (T,) or None)."""
        if not self.is_event:
            return [(row[None, :], None) for row in self.call(clips)]
        emb, ts = self.call(clips)
        return [(emb[i], ts[i]) for i in range(len(clips))]

    def needs_chunks(self, n_samples: int) -> bool:
        return self.is_event and n_samples > self.chunk_samples()[0]

    def embed_chunked(self, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Timestamp embeddings of one long clip, computed chunk by chunk and stitched."""
        chunk, context = self.chunk_samples()
        windows = chunk_windows(len(clip), chunk, context)
        pieces: list = [None] * len(windows)
        by_length: dict[int, list[int]] = {}
        for i, (a, b, _, _) in enumerate(windows):
            by_length.setdefault(b - a, []).append(i)
        for length, idx in by_length.items():
            step = self.batch_size(length)
            for s in range(0, len(idx), step):
                group = idx[s : s + step]
                emb, ts = self.call(np.stack([clip[windows[i][0] : windows[i][1]] for i in group]))
                for j, i in enumerate(group):
                    is_last = i == len(windows) - 1
                    pieces[i] = self._keep_own_frames(emb[j], ts[j], windows[i], is_last)
        rows = np.concatenate([p[0] for p in pieces])
        stamps = np.concatenate([p[1] for p in pieces])
        check_regular(stamps, self._probed().hop_ms)
        return rows, stamps

    def _keep_own_frames(self, emb, ts, window, is_last: bool):
        in_start, _, own_start, own_end = window
        ms = 1000.0 / self.sr
        stamps = ts + in_start * ms
        keep = np.ones(len(stamps), dtype=bool)
        if own_start > 0:
            keep &= stamps >= own_start * ms - BORDER_TOL_MS
        if not is_last:
            keep &= stamps < own_end * ms - BORDER_TOL_MS
        return emb[keep], stamps[keep]


def chunk_windows(n: int, chunk: int, context: int) -> list[tuple[int, int, int, int]]:
    """(input start, input end, own start, own end) of each chunk of an n-sample clip; the last
    window's own end is n (it keeps every frame up to the clip end)."""
    out = []
    for own_start in range(0, n, chunk):
        own_end = min(n, own_start + chunk)
        out.append((max(0, own_start - context), min(n, own_end + context), own_start, own_end))
    return out


def check_regular(stamps: np.ndarray, hop_ms: float | None) -> None:
    """Raise when stitched timestamps are not strictly increasing at a regular hop."""
    if len(stamps) < 2:
        return
    diffs = np.diff(stamps)
    hop = hop_ms if hop_ms is not None else float(np.median(diffs))
    if np.any(diffs <= 0) or np.max(np.abs(diffs - hop)) > HOP_TOL_MS:
        bad = int(np.argmax(np.abs(diffs - hop)))
        raise RuntimeError(
            f"stitched timestamps are irregular near {stamps[bad]:.3f} ms (hop {hop:.3f} ms); "
            "use a larger --chunk-seconds or report the model's timestamp rule"
        )


def _align_samples(hop_ms: float, sr: int) -> int:
    hop = Fraction(hop_ms * sr / 1000).limit_denominator(64)
    if abs(float(hop) - hop_ms * sr / 1000) > 1e-3 or hop.numerator <= 0:
        return 1
    if hop.denominator > 1 and hop.numerator % 2:
        # Frame starts round(k * hop) hit exact .5 ties; Python's round-half-to-even gives the
        # same result after a shift only when the shift is an even number of samples.
        return 2 * hop.numerator
    return hop.numerator


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _numpy(t, dtype=np.float32) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=dtype)
