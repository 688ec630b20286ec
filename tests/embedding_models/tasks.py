"""Embedding task folders (what the embedding stage writes) with synthetic clustered embeddings,
for the tests of the prediction stage."""

import numpy as np

from hearcore.format import TVT_SPLITS, fold_names
from heareval.predictions.data import load_task, make_clusters, write_embedding_task

VOCAB = ["cat", "dog", "owl"]
FAST_OVERRIDE = {"max_epochs": [30], "batch_size": [32], "lr": [1e-2, 3.2e-3], "patience": [5]}


def scene_task(path, split_mode="trainvaltest", n=180, noise=0.2, seed=0, override=None):
    x, classes = make_clusters(n, 8, len(VOCAB), noise, seed)
    names = list(TVT_SPLITS) if split_mode == "trainvaltest" else fold_names(4)
    chunks = np.array_split(np.arange(n), len(names))
    splits = {s: (x[rows], [[VOCAB[c]] for c in classes[rows]]) for s, rows in zip(names, chunks)}
    metadata = {
        "task_name": "synthetic",
        "embedding_type": "scene",
        "prediction_type": "multiclass",
        "split_mode": split_mode,
        "splits": names,
        "evaluation": ["top1_acc", "mAP"],
        "evaluation_params": {"task_specific_param_grid": override or FAST_OVERRIDE},
    }
    return load_task(write_embedding_task(path, metadata, VOCAB, splits))
