"""Embedding one task bundle into one output folder (EVAL.md §2.3), cached by key."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from heareval.bundle import METADATA_FILE, VOCABULARY_FILE, TaskBundle, read_bundle
from heareval.embeddings import cache
from heareval.embeddings.clips import choose_source_rate, load_clip
from heareval.embeddings.extract import Extractor
from heareval.embeddings.labels import frame_labels
from heareval.embeddings.memory import peak_rss_bytes
from heareval.embeddings.output import SplitWriter

PROFILE_FILE = "profile.embeddings.json"


def embed_task(
    bundle_dir: Path,
    out_dir: Path,
    module,
    model,
    identity: dict,
    device: torch.device,
    *,
    memory_budget_mb: float = 512,
    batch_size: int | None = None,
    chunk_seconds: float | None = None,
    context_seconds: float = 1.0,
    progress: bool = True,
) -> dict:
    """Write the embeddings of one bundle to `out_dir`, unless a finished one has the same key.

    Returns:
        {"status": "done" | "skipped", "out_dir": str, "profile": dict | None}.
    """
    bundle = read_bundle(bundle_dir)
    model_rate = int(model.sample_rate)
    source_rate = choose_source_rate(bundle.available_rates(), model_rate)
    key = {
        "format_version": cache.FORMAT_VERSION,
        "model": identity,
        "bundle": cache.bundle_digest(bundle.path, source_rate),
        "source_rate": source_rate,
        "sample_rate": model_rate,
        "chunk_seconds": chunk_seconds,
        "context_seconds": context_seconds,
    }
    cache.remove_stale_partials(out_dir)
    if cache.is_done(out_dir, key):
        return {"status": "skipped", "out_dir": str(out_dir), "profile": None}

    tmp = cache.new_partial_dir(out_dir)
    try:
        extractor = Extractor(
            module, model, device, bundle.is_event, memory_budget_mb, batch_size, chunk_seconds,
            context_seconds,
        )  # fmt: skip
        profile = _write_task(bundle, tmp, extractor, source_rate, progress)
        profile.update(model=identity, memory_budget_mb=memory_budget_mb)
        _write_json(tmp / PROFILE_FILE, profile)
        _write_json(tmp / cache.KEY_FILE, key)  # last: its presence marks the folder complete
        cache.commit_partial(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"status": "done", "out_dir": str(out_dir), "profile": profile}


def _write_task(
    bundle: TaskBundle, tmp: Path, extractor: Extractor, source_rate: int, progress: bool
) -> dict:
    for name in [METADATA_FILE, VOCABULARY_FILE] + [f"{s}.json" for s in bundle.splits]:
        shutil.copyfile(bundle.path / name, tmp / name)
    if extractor.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(extractor.device)
    start = time.perf_counter()
    plan = extractor.probe()
    # hear-eval-kit shuffled each split's files with one Random(0) shared across splits in order.
    prng = random.Random(0)
    totals = {"clips": 0, "samples": 0, "batch_sizes": set(), "chunked_clips": 0}
    for split in bundle.splits:
        files = list(bundle.labels(split))
        prng.shuffle(files)
        _write_split(bundle, split, files, tmp, extractor, source_rate, totals, progress)
    elapsed = time.perf_counter() - start
    audio_seconds = totals["samples"] / extractor.sr
    profile = {
        "task": bundle.name,
        "time_elapsed": elapsed,
        "clips": totals["clips"],
        "audio_seconds": audio_seconds,
        "audio_seconds_per_second": audio_seconds / elapsed if elapsed > 0 else None,
        "device": str(extractor.device),
        "device_name": _device_name(extractor.device),
        "peak_rss_bytes": peak_rss_bytes(),
        "cuda_max_memory_allocated": (
            torch.cuda.max_memory_allocated(extractor.device)
            if extractor.device.type == "cuda"
            else None
        ),
        "batch_sizes": sorted(totals["batch_sizes"]),
        "chunked_clips": totals["chunked_clips"],
        "estimated_bytes_per_audio_second": plan.bytes_per_second,
        "memory_measured": plan.measured,
        "sample_rate": extractor.sr,
        "source_rate": source_rate,
        "resampled_from": source_rate if source_rate != extractor.sr else None,
    }
    if totals["chunked_clips"]:
        chunk, context = extractor.chunk_samples()
        profile.update(chunk_samples=chunk, context_samples=context)
    return profile


def _write_split(bundle, split, files, tmp, extractor, source_rate, totals, progress) -> None:
    labels = bundle.labels(split)

    def load(name):
        return load_clip(bundle, split, name, source_rate, extractor.sr)

    bar = tqdm(total=len(files), desc=f"{bundle.name} {split}", unit="clip", disable=not progress)
    with SplitWriter(tmp, split, bundle.is_event) as writer:
        for names, clips in _batches(files, load, extractor):
            if len(clips) == 1 and extractor.needs_chunks(len(clips[0])):
                results = [extractor.embed_chunked(clips[0])]
                totals["chunked_clips"] += 1
            else:
                results = extractor.embed_batch(np.stack(clips))
                totals["batch_sizes"].add(len(clips))
            for name, (rows, stamps) in zip(names, results):
                if bundle.is_event:
                    writer.add(name, rows, frame_labels(labels[name], stamps), stamps)
                else:
                    writer.add(name, rows, [labels[name]])
            totals["clips"] += len(names)
            totals["samples"] += sum(len(c) for c in clips)
            bar.update(len(names))
    bar.close()


def _batches(files, load, extractor):
    """Consecutive files grouped into equal-length batches of the budgeted size."""
    pending = None
    i = 0
    while i < len(files) or pending is not None:
        first = pending if pending is not None else (files[i], load(files[i]))
        if pending is None:
            i += 1
        pending = None
        names, clips = [first[0]], [first[1]]
        n = len(first[1])
        limit = 1 if extractor.needs_chunks(n) else extractor.batch_size(n)
        while len(clips) < limit and i < len(files):
            nxt = (files[i], load(files[i]))
            i += 1
            if len(nxt[1]) != n:
                pending = nxt
                break
            names.append(nxt[0])
            clips.append(nxt[1])
        yield names, clips


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
