"""Embedding throughput: memory-budget batching against batch size 1, same code path.

Builds two synthetic bundles in HEAR format in a temp dir (1,000 one-second scene clips; 20
two-minute event clips; tones plus noise, written at 16 and 44.1 kHz so no model resamples), runs
`python -m heareval.embeddings.runner` once per model x bundle x batching in a fresh process (so
peak RSS is that run's own), and prints audio-seconds per wall-second of extraction (model load
excluded, from profile.embeddings.json) and peak RSS.

    python benchmarks/embeddings_throughput.py [--models naive,crepe] [--scale 1.0]
        [--memory-budget-mb 512] [--long-seconds 120]
        [--variable-lengths [SECONDS:SHARE,...]] [--longest 30]

`--scale` multiplies the clip counts (at least one clip each), for slow models on small machines.

`--variable-lengths` runs one FSD50K-like bundle instead (scene, sample_duration null, 500
clips of 0.3-30 s): by default 15 % of the clips last exactly 30 s and 10 % exactly 10 s
(`30:0.15,10:0.1`), the others have log-uniformly drawn lengths of their own between 0.3 s and
`--longest` (mean 11 s; FSD50K's eval set averages about 9.8 s: 10,231 clips, about 8.8 GB at
44.1 kHz). These shares of repeated lengths are assumed, not measured on FSD50K; only clips of
one length can share a model call, so they bound what batching can gain. The real small-mode
FSD50K archives hold 71 of 80 clips at exactly 1 s and the rest at 0.32-1 s: `--variable-lengths
1:0.89 --longest 1 --scale 4`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test-support package embedding_models
from embedding_models.bundles import write_bundle  # noqa: E402

RATES = (16000, 44100)
MODELS = {"naive": "heareval.models.naive", "crepe": "heareval.models.crepe"}


def _clip(seconds: float, sr: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    freq = 110 * 2 ** (rng.integers(0, 48) / 12)
    return (0.3 * np.sin(2 * np.pi * freq * t) + rng.normal(0, 0.05, len(t))).astype(np.float32)


def build_bundle(root: Path, name: str, n: int, seconds: float, event: bool) -> Path:
    files = {}
    for i in range(n):
        audio = {sr: _clip(seconds, sr, i) for sr in RATES}
        labels = [{"label": "tone", "start": 0.0, "end": seconds * 500}] if event else ["tone"]
        files[f"clip{i:05d}.wav"] = (audio, labels)
    meta = {
        "task_name": name, "version": "bench", "embedding_type": "event" if event else "scene",
        "prediction_type": "multilabel", "split_mode": "trainvaltest", "sample_duration": seconds,
        "evaluation": ["top1_acc"], "mode": "full",
    }  # fmt: skip
    return write_bundle(root, f"{name}-bench-full", meta, {"test": files}, RATES)


# Assumed shares of the FSD50K-like bundle's repeated lengths (seconds:share of clips).
REPEATED = "30:0.15,10:0.1"
SHORTEST = 0.3


def variable_lengths(n: int, repeated: str, longest: float, seed: int = 0) -> list[float]:
    """Clip lengths in seconds: the `repeated` shares, the rest log-uniform in 0.3 s-`longest`."""
    rng = np.random.default_rng(seed)
    shares = {float(s): float(f) for s, f in (item.split(":") for item in repeated.split(","))}
    counts = {s: round(share * n) for s, share in shares.items()}
    rest = n - sum(counts.values())
    if rest < 0:
        raise SystemExit(f"--variable-lengths {repeated}: the shares add up to more than 1")
    lengths = [s for s, k in counts.items() for _ in range(k)]
    lengths += list(np.exp(rng.uniform(np.log(SHORTEST), np.log(longest), rest)))
    return [float(x) for x in rng.permutation(lengths)]


def build_variable_bundle(root: Path, name: str, n: int, repeated: str, longest: float) -> Path:
    files = {}
    for i, seconds in enumerate(variable_lengths(n, repeated, longest)):
        audio = {sr: _clip(seconds, sr, i) for sr in RATES}
        files[f"clip{i:05d}.wav"] = (audio, ["tone"])
    meta = {
        "task_name": name, "version": "bench", "embedding_type": "scene",
        "prediction_type": "multilabel", "split_mode": "trainvaltest", "sample_duration": None,
        "evaluation": ["mAP"], "mode": "full",
    }  # fmt: skip
    return write_bundle(root, f"{name}-bench-full", meta, {"test": files}, RATES)


def run_once(module: str, tasks: Path, task: str, out: Path, budget: float, batch: int | None):
    cmd = [sys.executable, "-m", "heareval.embeddings.runner", module, "--tasks-dir", str(tasks)]
    cmd += ["--task", task, "--embeddings-dir", str(out), "--device", "cpu"]
    cmd += ["--memory-budget-mb", str(budget)]
    if batch:
        cmd += ["--batch-size", str(batch)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    [profile_path] = out.glob(f"*/{task}/profile.embeddings.json")
    return json.loads(profile_path.read_text()), wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default="naive,crepe")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--memory-budget-mb", type=float, default=512)
    p.add_argument("--long-seconds", type=float, default=120.0)
    p.add_argument(
        "--variable-lengths", nargs="?", const=REPEATED, metavar="SECONDS:SHARE,...",
        help=f"an FSD50K-like bundle with these shares of repeated lengths ({REPEATED})",
    )  # fmt: skip
    p.add_argument("--longest", type=float, default=30.0, help="longest clip, variable lengths")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="hear-bench-") as tmp:
        tasks = Path(tmp) / "tasks"
        t0 = time.perf_counter()
        if args.variable_lengths:
            n = max(1, round(500 * args.scale))
            bundles = [
                build_variable_bundle(tasks, "varlen", n, args.variable_lengths, args.longest)
            ]
        else:
            n_short, n_long = max(1, round(1000 * args.scale)), max(1, round(20 * args.scale))
            short = build_bundle(tasks, "short", n_short, 1.0, event=False)
            long_ = build_bundle(tasks, "long", n_long, args.long_seconds, event=True)
            bundles = [short, long_]
        print(f"bundles written in {time.perf_counter() - t0:.1f} s under {tasks}")
        header = f"{'model':6} {'bundle':28} {'batching':8} {'batch':>6} {'audio s':>8} "
        header += f"{'audio-s/s':>10} {'wall s':>7} {'peak RSS MB':>11}"
        print(header)
        for key in args.models.split(","):
            speeds = {}
            for bundle in bundles:
                for label, batch in (("budget", None), ("bs=1", 1)):
                    out = Path(tmp) / f"emb-{key}-{bundle.name}-{label}"
                    prof, wall = run_once(
                        MODELS[key], tasks, bundle.name, out, args.memory_budget_mb, batch
                    )
                    speed = prof["audio_seconds_per_second"]
                    speeds[bundle.name, label] = speed
                    batches = ",".join(map(str, prof["batch_sizes"])) or "-"
                    if "batches" in prof:
                        batches += f" ({prof['batches']} calls)"
                    if prof["chunked_clips"]:
                        batches += f" (chunks {prof['chunk_samples']})"
                    print(
                        f"{key:6} {bundle.name:28} {label:8} {batches:>6} "
                        f"{prof['audio_seconds']:8.0f} {speed:10.1f} {wall:7.1f} "
                        f"{prof['peak_rss_bytes'] / 2**20:11.0f}",
                        flush=True,
                    )
            for bundle in bundles:
                ratio = speeds[bundle.name, "budget"] / speeds[bundle.name, "bs=1"]
                print(f"{key}: {bundle.name} budget batching / batch size 1 = {ratio:.2f}x")


if __name__ == "__main__":
    main()
