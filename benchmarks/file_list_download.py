"""Throughput of fetch_file_list (a thread pool) against fetching the same files one by one.

Generates a corpus shaped like CREMA-D (7,438 WAV-sized files of about 2.5 s of 16 kHz 16-bit
audio, ~80 KB each, random bytes) and its manifest (`URL SIZE SHA256`, parsed with
`parse_manifest`), serves it with a MirrorServer in a separate process that delays every answer
by `--latency` (a remote host's round trip; a separate process, so that the server does not
compete with the client for the GIL, as a real host would not), and times `fetch_file_list`
with `--workers` threads against `workers=1`. Runs are interleaved `--repeats` times, each into
an empty destination; the best of each is shown, with the CPU seconds the client and the server
spent and the time of the final sync-and-rename.

    python benchmarks/file_list_download.py [--files 500] [--seconds 2.5] [--repeats 2]

Goal: the pool >= 5x faster than one file after another.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hearpreprocess import filelist  # noqa: E402
from hearpreprocess.filelist import fetch_file_list, parse_manifest  # noqa: E402
from hearpreprocess.mirror import mirror_location  # noqa: E402

BASE_URL = "https://media.bench.test/CREMA-D/master/AudioWAV"
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
SERVER = (
    "import sys\n"
    "from hearpreprocess.mirror import MirrorServer\n"
    "server = MirrorServer(sys.argv[1], latency_seconds=float(sys.argv[2])).start()\n"
    "print(server.url, flush=True)\n"
    "sys.stdin.read()\n"
)


def write_corpus(mirror: Path, n: int, mean_seconds: float) -> str:
    """n files of 44 + 32,000 bytes per second (16 kHz 16-bit mono WAV), clip lengths spread
    like CREMA-D's (0.6x-2x the mean); returns the manifest text."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        seconds = mean_seconds * float(np.clip(rng.normal(1.0, 0.2), 0.6, 2.0))
        data = rng.bytes(44 + 2 * int(16000 * seconds))
        name = f"{1001 + i % 91}_{i:05d}_{EMOTIONS[i % 6]}_XX.wav"
        url = f"{BASE_URL}/{name}"
        mirror_location(mirror, url).write_bytes(data)
        lines.append(f"{url}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{name}")
    return "\n".join(lines) + "\n"


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _SyncTimer:
    """Wraps filelist._sync_folder to time the final fsync of every file and the folder."""

    def __init__(self):
        self.seconds = 0.0
        self._real = filelist._sync_folder

    def __call__(self, *args):
        start = time.perf_counter()
        try:
            return self._real(*args)
        finally:
            self.seconds += time.perf_counter() - start


def run_once(files, dest: Path, mirror: str, workers: int, server_pid: int, progress: bool):
    shutil.rmtree(dest.parent, ignore_errors=True)
    timer = _SyncTimer()
    filelist._sync_folder = timer
    server_cpu = _cpu_seconds(server_pid)
    cpu, start = time.process_time(), time.perf_counter()
    try:
        fetch_file_list(files, dest, mirror=mirror, workers=workers, progress=progress)
    finally:
        filelist._sync_folder = timer._real
    wall = time.perf_counter() - start
    result = {
        "wall": wall,
        "client_cpu": time.process_time() - cpu,
        "server_cpu": _cpu_seconds(server_pid) - server_cpu,
        "sync": timer.seconds,
    }
    if len(os.listdir(dest)) != len(files):
        raise RuntimeError(f"{dest} holds {len(os.listdir(dest))} files, not {len(files)}")
    shutil.rmtree(dest.parent)
    return result


def measure(out: Path, args) -> None:
    start = time.perf_counter()
    manifest = write_corpus(out / "mirror", args.files, args.seconds)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    files = parse_manifest(manifest, "benchmark manifest")
    parsed = time.perf_counter() - start
    total_mb = sum(f.size for f in files) / 1e6
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(out / "mirror"), str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        mirror = server.stdout.readline().strip()
        runs = {"pool": args.workers, "one by one": 1}
        best: dict[str, dict] = {}
        for repeat in range(args.repeats):
            order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]
            for label in order:
                dest = out / "dest" / "crema_d"
                r = run_once(files, dest, mirror, runs[label], server.pid, args.progress)
                if label not in best or r["wall"] < best[label]["wall"]:
                    best[label] = r
    finally:
        server.stdin.close()
        server.wait(timeout=30)

    print(
        f"{args.files} files, {total_mb:.1f} MB (mean {total_mb / args.files * 1e3:.0f} KB), "
        f"latency {args.latency * 1e3:.0f} ms per request, best of {args.repeats}"
    )
    print(f"(generated in {generated:.1f} s; manifest parsed in {parsed * 1e3:.0f} ms)")
    header = (
        f"{'run':12s} {'workers':>7s} {'wall s':>8s} {'files/s':>8s} {'MB/s':>7s} "
        f"{'client cpu s':>12s} {'server cpu s':>12s} {'sync s':>7s} {'latency floor s':>15s}"
    )
    print(header)
    print("-" * len(header))
    for label, r in best.items():
        workers = runs[label]
        print(
            f"{label:12s} {workers:7d} {r['wall']:8.2f} {args.files / r['wall']:8.0f} "
            f"{total_mb / r['wall']:7.1f} {r['client_cpu']:12.2f} {r['server_cpu']:12.2f} "
            f"{r['sync']:7.2f} {args.files * args.latency / workers:15.2f}"
        )
    speedup = best["one by one"]["wall"] / best["pool"]["wall"]
    print(f"speed-up of the pool: {speedup:.1f}x  (goal >= 5x)")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--files", type=int, default=7438, help="files in the manifest (CREMA-D: 7438)")
    p.add_argument(
        "--seconds",
        type=float,
        default=2.5,
        help="mean clip length; a file is 32,000 bytes per second (16 kHz 16-bit) + 44",
    )
    p.add_argument(
        "--latency", type=float, default=0.020, help="seconds the server waits before each answer"
    )
    p.add_argument("--workers", type=int, default=16, help="threads of the pool (the default)")
    p.add_argument(
        "--repeats", type=int, default=1, help="interleaved runs of each; the best is shown"
    )
    p.add_argument(
        "--out",
        help="scratch folder, kept (default: a temporary one, removed); holds the corpus and one "
        "destination at a time, about 1.2 GB at the defaults; /dev/shm takes the disk out",
    )
    p.add_argument("--progress", action="store_true", help="show fetch_file_list's progress bar")
    args = p.parse_args()
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        measure(Path(args.out), args)
    else:
        with tempfile.TemporaryDirectory(prefix="hear-bench-filelist-") as tmp:
            measure(Path(tmp), args)


if __name__ == "__main__":
    main()
