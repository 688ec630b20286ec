"""Batched vs one-after-another training of the default grid, with the same code.

Fixed synthetic set: 20,000 rows x 512 dims, 50 classes, 5 folds (4,000 rows each), Gaussian
clusters around random unit centres with noise. The default grid's 16 configurations are all
trained (--grid-points 16). Rotation 0 is used as in the grid search (train = folds 2-4, valid =
fold 1, test = fold 0). "Sequential" calls the same `train_grid` once per configuration
(n_configs = 1) with the same seeds. Reports wall times, their ratio, the selected configuration
of each mode and its test score.

Usage: python benchmarks/grid_training.py [--max-epochs 6] [--device cpu] [--max-stack 16]
`--max-epochs` caps max_epochs (500 in the grid) to fit a small machine; check_val_every_n_epoch
stays 3, patience 20.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from heareval.predictions.data import make_clusters
from heareval.predictions.grid import PARAM_GRID, sample_grid
from heareval.predictions.mlp import predict, train_grid
from heareval.predictions.protocol import derive_seed

N_ROWS, DIM, N_CLASSES, N_FOLDS = 20_000, 512, 50, 5


class Top1:
    multilabel = False

    def __init__(self, targets):
        self.targets = targets

    def __call__(self, probs, loss):
        return float((probs.argmax(1) == self.targets).mean()), ()


def run(mode, configs, x, y, classes, seed, max_stack=None):
    folds = np.array_split(np.arange(N_ROWS), N_FOLDS)
    test, valid, train = folds[0], folds[1], np.concatenate(folds[2:])
    seeds = [derive_seed(seed, 0, c) for c in configs]
    kwargs = dict(maximize=True, shuffle_seed=derive_seed(seed, 0, "shuffle"))
    validate = Top1(classes[valid])
    started = time.perf_counter()
    if mode == "batched":
        results = train_grid(
            configs, x, y, train, valid, validate, seeds=seeds, max_stack=max_stack, **kwargs
        )
    else:
        results = []
        for config, s in zip(configs, seeds):
            results += train_grid([config], x, y, train, valid, validate, seeds=[s], **kwargs)
    if x.is_cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    best = max(range(len(results)), key=lambda i: results[i].value)
    probs, _ = predict(results[best].state, x, test, multilabel=False)
    test_score = float((probs[0].argmax(1).cpu().numpy() == classes[test]).mean())
    return {
        "mode": mode,
        "seconds": round(elapsed, 2),
        "selected": best,
        "selected_hparams": {
            k: results[best].config[k] for k in ("hidden_layers", "lr", "initialization")
        },
        "validation_scores": [round(r.value, 4) for r in results],
        "test_score": test_score,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--noise", type=float, default=3.0)
    parser.add_argument(
        "--max-stack", type=int, default=None, help="configs per stack (default: train_grid's)"
    )
    args = parser.parse_args()
    configs = sample_grid(PARAM_GRID, 16, args.seed)
    if args.max_epochs:
        configs = [{**c, "max_epochs": min(c["max_epochs"], args.max_epochs)} for c in configs]
    x_np, classes = make_clusters(N_ROWS, DIM, N_CLASSES, args.noise, seed=0)
    x = torch.tensor(x_np, device=args.device)
    y = torch.tensor(np.eye(N_CLASSES, dtype=np.float32)[classes], device=args.device)
    print(
        f"device={args.device} threads={torch.get_num_threads()} configs={len(configs)} "
        f"max_epochs={configs[0]['max_epochs']}",
        flush=True,
    )
    reports = [
        run(m, configs, x, y, classes, args.seed, args.max_stack) for m in ("batched", "sequential")
    ]
    for r in reports:
        print(json.dumps(r), flush=True)
    batched, sequential = reports
    print(
        json.dumps(
            {
                "speedup": round(sequential["seconds"] / batched["seconds"], 2),
                "same_selection": batched["selected"] == sequential["selected"],
                "test_score_difference": abs(batched["test_score"] - sequential["test_score"]),
            }
        )
    )


if __name__ == "__main__":
    main()
