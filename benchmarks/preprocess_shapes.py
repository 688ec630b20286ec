"""Preprocessing throughput and memory on two corpus shapes that preprocess_throughput.py lacks.

- `varlen` (FSD50K-like): 400 mono 44.1 kHz 16-bit clips of 0.3-30 s (log-uniform, so most are a
  few seconds, and a tenth exactly 30 s, like Freesound clips cut at the cap), in a task with
  no sample_duration: every clip keeps its own length at every rate.
- `long` (beehive-like): 6 stereo 16-bit clips of 600 s, alternately 32 and 44.1 kHz, in a task
  with sample_duration = 600.

Each corpus is written in the layout of the built-in `tones` corpus (tones-v1/labels.csv +
audio/<label>-<NNN>.wav), zipped (stored), served on loopback and built by the whole runner with
--workers 1 and 2, against the one-process floor of `audio.process_clip` over the same files
(one scratch file per rate, and every clip kept in its own files as the pipeline must), as in
preprocess_throughput.py. `long` runs the `tones` task itself with a --config-overrides file
(source URL, md5, sample_duration = 600). A TOML override cannot say "no sample_duration" (TOML
has no null), so `varlen` runs a task of its own, a copy of tones.toml without sample_duration,
from a temporary recipes folder that the runner child process points
`hearpreprocess.config.RECIPES_DIR` at (the same override file redirects its source). Floors and
pipelines run interleaved, each from an empty folder, `--repeats` times; the best is shown, with
busy seconds per step from the runner's timing log and peak RSS over the runner's process tree.

For `long`, a fresh process also runs `process_clip` on ONE 600-s 44.1 kHz stereo clip and reports
its peak RSS (VmHWM) against what that clip needs at least: the decoded float32 native frames
plus the five float32 outputs, with the target "peak RSS <= that + 200 MB".

    python benchmarks/preprocess_shapes.py [--shape varlen long] [--scale 1.0] [--repeats 2]
        [--out DIR]

Scratch: up to about 5 GB per shape at scale 1 (`--out /dev/shm/DIR` keeps it in memory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from preprocess_throughput import measure_runner  # noqa: E402

from hearcore.allocator import reuse_freed_memory  # noqa: E402
from hearcore.format import SAMPLE_RATES  # noqa: E402
from hearcore.hashing import file_md5  # noqa: E402
from hearpreprocess import config as config_module  # noqa: E402
from hearpreprocess.audio import process_clip  # noqa: E402
from hearpreprocess.mirror import MirrorServer, mirror_location  # noqa: E402

BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://bench.test/shapes/tones-v1.zip"
LABELS = ("a3", "c4", "e4", "g4", "a4")
VARLEN_TASK = "bench_varlen"
LONG_SECONDS = 600.0
# Frames generated and written per block, so that a 600-s clip never sits in memory as float64.
BLOCK_SECONDS = 60
MB = 1e6


def varlen_durations(n: int, rng: np.random.Generator) -> np.ndarray:
    """FSD50K-like lengths: log-uniform over 0.3-30 s, and a tenth exactly 30 s."""
    seconds = np.exp(rng.uniform(np.log(0.3), np.log(30.0), n))
    seconds[rng.random(n) < 0.1] = 30.0
    return np.round(seconds, 3)


def write_wav_file(path: Path, seconds: float, sr: int, channels: int, seed: int) -> int:
    """A tone plus noise, 16-bit PCM, written block by block; returns the frame count."""
    rng = np.random.default_rng(seed)
    frequency, n = rng.uniform(200, 500), round(seconds * sr)
    gains = np.array([1.0, 0.8][:channels])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        for start in range(0, n, BLOCK_SECONDS * sr):
            t = np.arange(start, min(n, start + BLOCK_SECONDS * sr)) / sr
            tone = 0.3 * np.sin(2 * np.pi * frequency * t)
            frames = tone[:, None] * gains + rng.normal(0, 0.01, (len(t), channels))
            w.writeframes((np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())
    return n


def write_corpus(out: Path, shape: str, scale: float) -> tuple[Path, float, int]:
    """Write the corpus folder `out/corpus` and its zip in the mirror.

    Returns:
        (zip path, total audio seconds, clip count).
    """
    rng = np.random.default_rng(0)
    if shape == "varlen":
        count = max(20, round(400 * scale))
        clips = [(s, 44100, 1) for s in varlen_durations(count, rng)]
    else:
        count = max(2, round(6 * scale))
        clips = [(LONG_SECONDS, (32000, 44100)[i % 2], 2) for i in range(count)]
    root = out / "corpus" / "tones-v1"
    (root / "audio").mkdir(parents=True)
    rows, total = ["filename,label"], 0.0
    # Few enough labels that every one can be in each of the folds (the k-fold split checks).
    labels = LABELS[: max(1, min(len(LABELS), count // 10))]
    for i, (seconds, sr, channels) in enumerate(clips):
        label = labels[i % len(labels)]
        name = f"{label}-{i:03d}.wav"
        total += write_wav_file(root / "audio" / name, seconds, sr, channels, seed=i) / sr
        rows.append(f"{name},{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    archive = mirror_location(out / "mirror", URL)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(out / "corpus").as_posix())
    return archive, total, count


def write_task_files(out: Path, shape: str, md5: str, count: int) -> tuple[str, Path, Path]:
    """The task to build, a recipes folder for the runner, and the override file.

    The recipes folder holds the tones recipe and, for `varlen`, a copy of its TOML as a task of
    its own without sample_duration (an override cannot remove a key).
    """
    recipes = out / "recipes"
    recipes.mkdir(exist_ok=True)
    for name in ("tones.toml", "tones.py"):
        (recipes / name).write_bytes((config_module.RECIPES_DIR / name).read_bytes())
    task, extra = "tones", f"sample_duration = {LONG_SECONDS}\nnfolds = {min(5, count)}\n"
    if shape == "varlen":
        task, extra = VARLEN_TASK, ""
        lines = (config_module.RECIPES_DIR / "tones.toml").read_text().splitlines()
        lines = [x for x in lines if not x.startswith(("sample_duration", "task_name"))]
        toml = [f'task_name = "{task}"', 'recipe = "tones"'] + lines
        (recipes / f"{task}.toml").write_text("\n".join(toml) + "\n")
    overrides = out / "overrides.toml"
    overrides.write_text(
        f'[{task}]\n{extra}[{task}.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n'
    )
    return task, recipes, overrides


def run_pipeline(
    out: Path, task: str, recipes: Path, overrides: Path, mirror: str, workers: int
) -> dict:
    """The runner in a child process (which uses `recipes` as its recipes folder); its wall time,
    peak RSS over its process tree, busy seconds per step and the I/O stall time meanwhile."""
    timing = out / "steps.jsonl"
    out.mkdir(parents=True)
    argv = [sys.executable, __file__, "_runner", str(recipes), task, "--mode=full"]
    argv += [f"--mirror={mirror}", f"--config-overrides={overrides}", f"--workers={workers}"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    return measure_runner(argv, timing)


def floor(files: list[Path], scratch: Path, duration: float | None, keep_outputs: bool) -> float:
    """Seconds for process_clip over `files` in this process, all five rates, with the runner's
    malloc tuning; keep_outputs=False overwrites one scratch file per rate."""
    reuse_freed_memory()
    for sr in SAMPLE_RATES:
        (scratch / str(sr)).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for f in files:
        name = f.name if keep_outputs else "scratch.wav"
        process_clip(f, {sr: scratch / str(sr) / name for sr in SAMPLE_RATES}, duration)
    return time.perf_counter() - start


def one_clip_memory(src: Path, scratch: Path) -> dict:
    """Peak RSS of a fresh process running process_clip on `src` (600 s), and its floor."""
    scratch.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, __file__, "_one_clip", str(src), str(scratch)]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"one-clip probe failed:\n{result.stderr[-3000:]}")
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    native = probe["frames"] * probe["channels"] * 4
    outputs = {sr: round(LONG_SECONDS * sr) * 4 for sr in SAMPLE_RATES}
    return {**probe, "native_bytes": native, "output_bytes": sum(outputs.values())}


def _vm(key: str) -> int:
    """A VmRSS/VmHWM line of this process's /proc status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _one_clip_child(src: str, scratch: str) -> None:
    import soundfile
    import soxr  # noqa: F401  (loaded before the baseline, as in a worker that has run a clip)

    reuse_freed_memory()  # as the runner does before its workers start
    baseline = _vm("VmRSS")
    info = process_clip(src, {sr: Path(scratch) / f"{sr}.wav" for sr in SAMPLE_RATES}, LONG_SECONDS)
    print(
        json.dumps(
            {
                "baseline": baseline,
                "hwm": _vm("VmHWM"),
                "frames": soundfile.info(src).frames,
                "channels": info.channels,
                "native_sr": info.native_sr,
            }
        )
    )


def _runner_child(recipes: str, argv: list[str]) -> int:
    # Set before the runner reads any recipe; Luigi's workers are forked and inherit it.
    config_module.RECIPES_DIR = Path(recipes)
    from hearpreprocess import runner

    return runner.main(argv)


def measure(out: Path, shape: str, scale: float, repeats: int) -> None:
    """Build the corpus of `shape` under `out`, run floors and pipelines interleaved, print."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: give an empty or new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    archive, seconds, count = write_corpus(out, shape, scale)
    task, recipes, overrides = write_task_files(out, shape, file_md5(archive), count)
    files = sorted((out / "corpus" / "tones-v1" / "audio").glob("*.wav"))
    duration = None if shape == "varlen" else LONG_SECONDS
    print(
        f"[{shape}] {count} clips, {seconds:.0f} audio-s, zip {archive.stat().st_size / MB:.0f} MB"
        f" (written in {time.perf_counter() - started:.0f} s); task {task!r}, sample_duration "
        f"{duration}; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
        flush=True,
    )
    best: dict = {}
    with MirrorServer(out / "mirror") as server:
        for _ in range(repeats):
            for key, keep in (("floor", False), ("floor-kept", True)):
                wall = floor(files, out / key, duration, keep_outputs=keep)
                shutil.rmtree(out / key)
                best[key] = min(best.get(key, wall), wall)
            for workers in (1, 2):
                r = run_pipeline(out / "run", task, recipes, overrides, server.url, workers)
                shutil.rmtree(out / "run")
                if workers not in best or r["wall"] < best[workers]["wall"]:
                    best[workers] = r
    print(f"floor (process_clip loop, 1 process): {seconds / best['floor']:8.1f} audio-s/s")
    print(f"floor keeping every output file:      {seconds / best['floor-kept']:8.1f} audio-s/s")
    for workers in (1, 2):
        r = best[workers]
        stall = "" if r["io_stall"] is None else f", all tasks stalled on I/O {r['io_stall']:.1f} s"
        print(
            f"pipeline --workers {workers}: {seconds / r['wall']:8.1f} audio-s/s "
            f"(wall {r['wall']:.1f} s, peak RSS {r['peak_rss'] / MB:.0f} MB{stall})"
        )
        for step, t in sorted(r["steps"].items(), key=lambda kv: -kv[1]):
            rate = seconds / t if t else float("inf")
            print(f"    {step:18s} {t:7.2f} s busy  {rate:9.1f} audio-s/s")
    one, two = best[1]["wall"], best[2]["wall"]
    print(f"1 worker / floor = {best['floor'] / one:.2f}; / floor keeping outputs = "
          f"{best['floor-kept'] / one:.2f}; 2 workers / 1 worker = {one / two:.2f}")  # fmt: skip
    if shape == "long":
        src = next(f for f in files if wave.open(str(f)).getframerate() == 44100)
        m = one_clip_memory(src, out / "one-clip")
        shutil.rmtree(out / "one-clip")
        need = m["native_bytes"] + m["output_bytes"]
        verdict = "met" if m["hwm"] <= need + 200 * MB else "MISSED"
        print(
            f"one {LONG_SECONDS:.0f}-s clip ({m['native_sr']} Hz x {m['channels']}), fresh "
            f"process: peak RSS {m['hwm'] / MB:.0f} MB (of which {m['baseline'] / MB:.0f} MB "
            f"before the clip); needs {m['native_bytes'] / MB:.0f} MB native float32 + "
            f"{m['output_bytes'] / MB:.0f} MB for the five float32 outputs = {need / MB:.0f} MB;"
            f" target <= {(need + 200 * MB) / MB:.0f} MB: {verdict}"
        )


def main() -> None:
    if sys.argv[1:2] == ["_runner"]:
        sys.exit(_runner_child(sys.argv[2], sys.argv[3:]))
    if sys.argv[1:2] == ["_one_clip"]:
        return _one_clip_child(*sys.argv[2:4])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", nargs="+", choices=("varlen", "long"), default=["varlen", "long"])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the 400 / 6 clips")
    p.add_argument("--out", help="scratch folder, kept (default: a temporary one, removed)")
    p.add_argument("--repeats", type=int, default=2, help="interleaved runs; the best is shown")
    args = p.parse_args()
    for shape in args.shape:
        if args.out:
            measure(Path(args.out) / shape, shape, args.scale, args.repeats)
        else:
            with tempfile.TemporaryDirectory(prefix=f"hear-shapes-{shape}-") as tmp:
                measure(Path(tmp), shape, args.scale, args.repeats)


if __name__ == "__main__":
    main()
