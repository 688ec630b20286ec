"""Throughput of the preprocessing pipeline against a one-process floor, and its memory.

Synthesises 2,000 one-second and 40 thirty-second clips (44.1 kHz stereo 16-bit) in the layout of
the built-in `tones` corpus, zips them, serves the zip on loopback and runs the whole runner
(download -> extract -> metadata -> splits -> audio shards -> bundle -> 5 tarballs) with
--workers 1 and --workers 2. The floor is the work a bundle and its tarballs need and nothing
else, in one process, one loop over the same files: decode -> mono -> trim/pad -> five resamples ->
WAV bytes written (`audio.process_clip`) -> the same bytes gzip-compressed as the tarballs compress
them (ISA-L level 1, `tarball.compress_file_data`) and written. The audio-only loop (no gzip) is
shown too. Peak memory is sampled over the runner's whole process tree (/proc), for the corpus and
for one ten times smaller.
Floors and pipelines run interleaved, each from an empty folder, `--repeats` times; the best of
each is shown (on this project's VMs, run-to-run spread is up to 2x: see `floor()`).

    python benchmarks/preprocess_throughput.py [--scale 0.25] [--out DIR] [--repeats 2]

`--out /dev/shm/bench` keeps every file in memory (about 5 GB), which takes the disk out of the
measurement; on a VM whose disk stalls under writeback (the run prints the stall time from
/proc/pressure/io), that separates the pipeline's own cost from the machine's.

Targets: 1 worker >= 0.75x the floor; 2 workers >= 1.7x 1 worker; RSS(10x clips) <= 1.2x.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hearcore.allocator import reuse_freed_memory  # noqa: E402
from hearcore.format import SAMPLE_RATES  # noqa: E402
from hearcore.hashing import file_md5  # noqa: E402
from hearcore.tarball import compress_file_data  # noqa: E402
from hearpreprocess.audio import process_clip  # noqa: E402
from hearpreprocess.mirror import MirrorServer  # noqa: E402
from hearpreprocess.mirror import mirror_location  # noqa: E402
from hearpreprocess.pipeline.base import TIMING_LOG_ENV  # noqa: E402

BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://bench.test/tones/tones-v1.zip"
SR = 44100
LABELS = ("a3", "c4", "e4", "g4", "a4")


def _wav(seconds: float, rng: np.random.Generator) -> bytes:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 500) * t)
    frames = np.stack([tone, 0.8 * tone], axis=1) + rng.normal(0, 0.01, (n, 2))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def write_corpus(path: Path, n_short: int, n_long: int) -> float:
    """The tones layout with n_short 1-s and n_long 30-s clips; returns total audio seconds."""
    rng = np.random.default_rng(0)
    rows, total = ["filename,label"], 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(n_short + n_long):
            seconds = 1.0 if i < n_short else 30.0
            name = f"clip-{i:06d}.wav"
            z.writestr(f"tones-v1/audio/{name}", _wav(seconds, rng))
            rows.append(f"{name},{LABELS[i % len(LABELS)]}")
            total += seconds
        z.writestr("tones-v1/labels.csv", "\n".join(rows) + "\n")
    return total


def _tree_rss(root_pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children[int(fields[1])].append(int(entry))
            except (OSError, IndexError):
                pass
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf(
                "SC_PAGE_SIZE"
            )
        except OSError:
            pass
    return total


def io_stall_seconds() -> float | None:
    """Time all tasks were stalled on I/O since boot (/proc/pressure/io "full"), if available."""
    try:
        for line in Path("/proc/pressure/io").read_text().splitlines():
            if line.startswith("full"):
                return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_pipeline(out: Path, mirror: str, md5: str, workers: int) -> dict:
    overrides = out / "overrides.toml"
    out.mkdir(parents=True, exist_ok=True)
    overrides.write_text(f'[tones.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n')
    timing = out / "steps.jsonl"
    argv = [sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode=full"]
    argv += [f"--mirror={mirror}", f"--config-overrides={overrides}", f"--workers={workers}"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    return measure_runner(argv, timing)


def measure_runner(argv: list[str], timing: Path) -> dict:
    """Run the runner command `argv` with its step timings logged to `timing`: its wall time,
    peak RSS over its process tree, busy seconds per step and the I/O stall time meanwhile."""
    env = {**os.environ, TIMING_LOG_ENV: str(timing), "PYTHONPATH": str(REPO)}
    stall_before = io_stall_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"runner failed:\n{stdout.decode()}\n{stderr.decode()[-3000:]}")
    steps: dict[str, float] = collections.defaultdict(float)
    for line in timing.read_text().splitlines():
        record = json.loads(line)
        steps[record["step"]] += record["seconds"]
    stall = None if stall_before is None else io_stall_seconds() - stall_before
    return {"wall": wall, "peak_rss": peak, "steps": dict(steps), "io_stall": stall}


def floor(extracted: Path, scratch: Path, gzip: bool) -> float:
    """Seconds for process_clip over every clip, one process, all five rates, each output kept in
    its own file, and (gzip=True) each output's bytes compressed for the tarball and written to a
    per-rate file; with the same malloc tuning as the runner (so the ratio measures the
    pipeline, not the allocator)."""
    reuse_freed_memory()
    files = sorted((extracted / "tones-v1" / "audio").glob("*.wav"))
    for sr in SAMPLE_RATES:
        (scratch / str(sr)).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        members = {
            sr: stack.enter_context(open(scratch / f"{sr}.members", "wb")) for sr in SAMPLE_RATES
        }
        for f in files:
            dests = {sr: scratch / str(sr) / f.name for sr in SAMPLE_RATES}
            process_clip(f, dests, 1.0)
            for sr, dest in dests.items() if gzip else ():
                members[sr].write(compress_file_data(dest.read_bytes()))
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the 2,000 + 40 clips")
    p.add_argument("--out", help="scratch folder, kept (default: a temporary one, removed)")
    p.add_argument("--repeats", type=int, default=2, help="interleaved runs; the best is shown")
    args = p.parse_args()
    if args.out:
        measure(Path(args.out), args.scale, args.repeats)
    else:  # about 5 GB of scratch at full scale
        with tempfile.TemporaryDirectory(prefix="hear-bench-") as tmp:
            measure(Path(tmp), args.scale, args.repeats)


def measure(out: Path, scale: float, repeats: int) -> None:
    """Build the corpus under `out`; run the floors and the pipeline with 1 and 2 workers,
    interleaved `repeats` times, each run from an empty folder; print the best of each."""
    n_short, n_long = max(50, round(2000 * scale)), max(1, round(40 * scale))
    (out / "mirror").mkdir(parents=True, exist_ok=True)
    archive = mirror_location(out / "mirror", URL)
    best: dict = {}
    with MirrorServer(out / "mirror") as server:
        seconds = write_corpus(archive, n_short, n_long)
        md5 = file_md5(archive)
        with zipfile.ZipFile(archive) as z:
            z.extractall(out / "corpus")
        for _ in range(repeats):
            for key, gzip in (("floor", True), ("audio-floor", False)):
                wall = floor(out / "corpus", out / key, gzip=gzip)
                shutil.rmtree(out / key)
                best[key] = min(best.get(key, wall), wall)
            for workers in (1, 2):
                r = run_pipeline(out / "run", server.url, md5, workers)
                shutil.rmtree(out / "run")
                if workers not in best or r["wall"] < best[workers]["wall"]:
                    best[workers] = r
        # The same pipeline on a corpus a tenth the size, for the memory comparison.
        seconds_small = write_corpus(archive, *_tenth(n_short, n_long))
        tenth = run_pipeline(out / "tenth", server.url, file_md5(archive), 1)
    floor_wall, audio_wall = best["floor"], best["audio-floor"]
    results = {workers: best[workers] for workers in (1, 2)}

    print(f"corpus: {n_short} x 1 s + {n_long} x 30 s = {seconds:.0f} audio-seconds")
    print(f"floor (audio + tarball gzip, 1 process): {seconds / floor_wall:8.1f} audio-s/s")
    print(f"audio only (process_clip loop):          {seconds / audio_wall:8.1f} audio-s/s")
    for workers, r in results.items():
        print(
            f"pipeline --workers {workers}: {seconds / r['wall']:8.1f} audio-s/s "
            f"(wall {r['wall']:.1f} s, peak RSS {r['peak_rss'] / 2**20:.0f} MiB"
            + ("" if r["io_stall"] is None else f", all tasks stalled on I/O {r['io_stall']:.1f} s")
            + ")"
        )
        for step, t in sorted(r["steps"].items(), key=lambda kv: -kv[1]):
            rate = seconds / t if t else float("inf")
            print(f"    {step:18s} {t:7.2f} s busy  {rate:9.1f} audio-s/s")
    one, two = results[1], results[2]
    print(f"1 worker / floor = {(floor_wall / one['wall']):.2f}  (target >= 0.75)")
    print(f"2 workers / 1 worker = {(one['wall'] / two['wall']):.2f}  (target >= 1.7)")
    print(
        f"peak RSS {n_short + n_long} clips / {sum(_tenth(n_short, n_long))} clips = "
        f"{one['peak_rss'] / tenth['peak_rss']:.2f}  (target <= 1.2; "
        f"{tenth['peak_rss'] / 2**20:.0f} MiB for {seconds_small:.0f} audio-s)"
    )


def _tenth(n_short: int, n_long: int) -> tuple[int, int]:
    return max(50, n_short // 10), max(1, n_long // 10)


if __name__ == "__main__":
    main()
