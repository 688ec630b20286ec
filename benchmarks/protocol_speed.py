"""Time of the downstream protocol (`heareval.predictions.protocol.run_protocol`), imports excluded.

Two tasks, built once into --cache (default /tmp/hearbench-protocol-speed):
* small: the real spoken_digit small bundle (100 clips, 5 folds) embedded with
  heareval.models.naive (512-d). When the archive is not in the shared corpora the benchmark says
  so and uses a synthetic task of the same shape (100 clips, 512-d, 10 classes, 5 folds).
* large: a synthetic k-fold task, 2,000 clips, 50 classes, 512-d, 5 folds
  (`data.make_clusters`, written with `data.write_embedding_task`).

Each task runs the protocol as `python -m heareval.predictions.runner --grid default
--grid-points 4` does (seed 42, MLP, CPU), --repeats times, the tasks interleaved, and the best
time of each is shown (this VM's timings spread: see docs/benchmarks.md). The start-up of the
runner (`python -c "import heareval.predictions.runner"`, best of --repeats) is timed too.

--record FILE writes each task's scores, selected configuration, grid and a sha256 of every
prediction array; --compare FILE checks a later run against such a record (exit 1 when anything
differs), so a speed change can be shown not to change results. --seeds N records N seeds per
task (default 1) for that purpose. PYTHONPATH=OTHER_TREE times another copy of the code.

When a change rounds differently on purpose, fingerprints cannot match; --scores FILE then writes
each task's test score (the mean over its folds) for --seeds seeds, and --against FILE compares
those with another tree's: per task the mean and standard deviation over the seeds, Welch's t-test
and the two-sample Kolmogorov-Smirnov test (exit 1 when either gives p <= 0.05).
--threads N sets torch's intra-op threads (default: torch's own choice).

Usage: python benchmarks/protocol_speed.py [--repeats 3] [--tasks small large]
       [--record FILE | --compare FILE] [--seeds N] [--scores FILE [--against FILE]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):  # this tree's code, not whatever is installed
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the shared-corpora location rule of the tests
from shared_corpora import CORPORA  # noqa: E402

SPOKEN_DIGIT = (
    CORPORA / "github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main/preprocessed"
    / "hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz"
)  # fmt: skip
BUNDLE = "hear-2021.0.6/tasks/spoken_digit-1.0.9-small"


def kfold_task(path: Path, n_rows: int, n_classes: int, noise: float) -> Path:
    """A synthetic 5-fold multiclass embedding task of 512-d Gaussian clusters."""
    from heareval.predictions.data import make_clusters, write_embedding_task

    x, classes = make_clusters(n_rows, 512, n_classes, noise, seed=0)
    folds = [f"fold{i:02d}" for i in range(5)]
    chunks = np.array_split(np.arange(n_rows), 5)
    metadata = {
        "task_name": path.name,
        "version": "1",
        "embedding_type": "scene",
        "prediction_type": "multiclass",
        "split_mode": "new_split_kfold",
        "nfolds": 5,
        "evaluation": ["top1_acc"],
        "splits": folds,
    }
    vocabulary = [f"c{i}" for i in range(n_classes)]
    splits = {
        f: (x[rows], [[vocabulary[c]] for c in classes[rows]]) for f, rows in zip(folds, chunks)
    }
    return write_embedding_task(path, metadata, vocabulary, splits)


def small_task(cache: Path) -> tuple[Path, str]:
    """The embedded real spoken_digit bundle, or its synthetic stand-in; (folder, description)."""
    embedded = cache / "embeddings/heareval.models.naive/spoken_digit-1.0.9-small"
    if (embedded / "task_metadata.json").is_file():
        return embedded, "real spoken_digit small, naive embeddings"
    if not SPOKEN_DIGIT.is_file():
        print(f"NOTE: {SPOKEN_DIGIT} is missing: using a synthetic task of the same shape "
              "(100 clips, 512-d, 10 classes, 5 folds)", flush=True)  # fmt: skip
        path = cache / "synthetic-small"
        if not (path / "task_metadata.json").is_file():
            kfold_task(path, 100, 10, noise=3.0)
        return path, "synthetic stand-in for spoken_digit small"
    with tarfile.open(SPOKEN_DIGIT) as tar:
        tar.extractall(cache / "bundle", filter="data")
    command = [sys.executable, "-m", "heareval.embeddings.runner", "heareval.models.naive",
               "--tasks-dir", str((cache / "bundle" / BUNDLE).parent), "--task", "all",
               "--embeddings-dir", str(cache / "embeddings")]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return embedded, "real spoken_digit small, naive embeddings"


def _digest(value) -> str:
    if isinstance(value, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fingerprint(result: dict) -> dict:
    """What must not change: scores, selection, grid and every prediction array (hashed)."""
    folds = {
        k: {m: v for m, v in f.items() if m != "time_in_min"} for k, f in result["folds"].items()
    }
    return {
        "folds": folds,
        "hparams": result["hparams"],
        "grid": result["grid"],
        "predictions": {
            k: {name: _digest(a) for name, a in sorted(arrays.items())}
            for k, arrays in result["predictions"].items()
        },
    }


def import_time(code: Path) -> float:
    """Wall time of a fresh interpreter importing the runner of the tree at `code`."""
    started = time.perf_counter()
    command = [sys.executable, "-c", "import heareval.predictions.runner"]
    subprocess.run(command, check=True, cwd=code)
    return time.perf_counter() - started


def mean_test_score(result: dict) -> float:
    """The protocol's headline number: the mean of the folds' test scores."""
    return float(np.mean([fold["test_score"] for fold in result["folds"].values()]))


def compare_distributions(mine: dict, theirs: dict) -> bool:
    """Print per task mean and sd over seeds and the two tests; True when no test rejects."""
    from scipy import stats

    same = True
    for task in sorted(set(mine) & set(theirs)):
        a, b = np.array(mine[task]), np.array(theirs[task])
        if np.array_equal(np.sort(a), np.sort(b)):  # the tests are undefined for equal samples
            welch = ks = 1.0
        else:
            welch = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
            ks = float(stats.ks_2samp(a, b).pvalue)
        verdict = "same distribution" if min(welch, ks) > 0.05 else "DIFFERENT (p <= 0.05)"
        same = same and min(welch, ks) > 0.05
        print(f"{task}: this tree {a.mean():.4f} +- {a.std(ddof=1):.4f} (n={len(a)}), "
              f"other {b.mean():.4f} +- {b.std(ddof=1):.4f} (n={len(b)}); "
              f"Welch t p={welch:.3f}, KS p={ks:.3f}: {verdict}")  # fmt: skip
    return same


def score_distribution(args, tasks: dict, protocol) -> int:
    """--scores / --against: each seed's mean test score per task, and their comparison."""
    seeds = range(42, 42 + args.seeds)
    scores = {name: [mean_test_score(protocol(name, seed)) for seed in seeds] for name in tasks}
    args.scores.write_text(json.dumps(scores, indent=1, sort_keys=True))
    print(f"wrote {args.seeds} seeds' mean test scores per task to {args.scores}")
    if args.against is None:
        return 0
    return 0 if compare_distributions(scores, json.loads(args.against.read_text())) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tasks", nargs="+", default=["small", "large"], choices=["small", "large"]
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/hearbench-protocol-speed"))
    parser.add_argument("--grid-points", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1, help="seeds 42.. fingerprinted per task")
    parser.add_argument("--record", type=Path, help="write the results' fingerprints here")
    parser.add_argument("--compare", type=Path, help="check the fingerprints against this record")
    parser.add_argument("--scores", type=Path, help="write each seed's mean test score here")
    parser.add_argument("--against", type=Path, help="compare --scores with this score file")
    parser.add_argument("--threads", type=int, help="torch intra-op threads")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from heareval.metrics import SCORES
    from heareval.predictions.data import load_task
    from heareval.predictions.protocol import run_protocol

    args.cache.mkdir(parents=True, exist_ok=True)
    paths, described = {}, {}
    if "small" in args.tasks:
        paths["small"], described["small"] = small_task(args.cache)
    if "large" in args.tasks:
        paths["large"] = args.cache / "synthetic-2000x50"
        if not (paths["large"] / "task_metadata.json").is_file():
            kfold_task(paths["large"], 2000, 50, noise=3.0)
        described["large"] = "synthetic k-fold, 2,000 clips, 50 classes, 512-d, 5 folds"
    tasks = {name: load_task(path) for name, path in paths.items()}
    import heareval

    code = Path(heareval.__file__).parent.parent
    print(f"code: {code}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)  # fmt: skip

    def protocol(name: str, seed: int = 42) -> dict:
        return run_protocol(tasks[name], grid="default", grid_points=args.grid_points, seed=seed,
                            probe="mlp", device="cpu", scores=SCORES)  # fmt: skip

    times: dict[str, list[float]] = {name: [] for name in tasks}
    starts: list[float] = []
    for repeat in range(args.repeats):
        for name in tasks:
            started = time.perf_counter()
            protocol(name)
            times[name].append(time.perf_counter() - started)
            print(f"  repeat {repeat + 1}: {name} {times[name][-1]:.2f} s", flush=True)
        starts.append(import_time(code))
    for name in tasks:
        if times[name]:
            print(f"{name} ({described[name]}): best {min(times[name]):.2f} s of {args.repeats} "
                  f"({', '.join(f'{t:.2f}' for t in times[name])})")  # fmt: skip
    if starts:
        print(f"import heareval.predictions.runner: best {min(starts):.2f} s of {args.repeats}")

    if args.scores:
        return score_distribution(args, tasks, protocol)
    if not (args.record or args.compare):
        return 0
    prints = {
        f"{name}/seed{seed}": fingerprint(protocol(name, seed))
        for name in tasks
        for seed in range(42, 42 + args.seeds)
    }
    if args.record:
        args.record.write_text(json.dumps(prints, indent=1, sort_keys=True))
        print(f"recorded {len(prints)} fingerprints in {args.record}")
    if args.compare:
        recorded = json.loads(args.compare.read_text())
        differ = [
            k for k in prints if k in recorded and recorded[k] != json.loads(json.dumps(prints[k]))
        ]
        checked = [k for k in prints if k in recorded]
        print(f"compared {len(checked)} runs with {args.compare}: "
              f"{'identical' if not differ else 'DIFFERENT: ' + ', '.join(differ)}")  # fmt: skip
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
