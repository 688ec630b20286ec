"""Cheaper alternatives to the MLP grid: a linear probe and a cosine k-nearest-neighbour probe.

Both follow scikit-learn conventions: hyper-parameters in `__init__`, `fit` returns self, learned
state ends in `_`. Targets are one/multi-hot float arrays (N, K).
"""

from __future__ import annotations

import numpy as np
import torch

from heareval.predictions.mlp import predict, train_grid

KNN_K_GRID = (1, 5, 10, 20)


class _LossMonitor:
    """Validator that monitors the validation loss (minimised)."""

    def __init__(self, multilabel: bool):
        self.multilabel = multilabel

    def __call__(self, probs, loss):
        return loss, ()


class LinearProbe:
    """Multinomial (or per-label logistic) regression trained by the grid trainer's loop.

    Args:
        lr: Adam learning rate.
        weight_decay: L2 penalty added to the gradient.
        multilabel: sigmoid/BCE instead of softmax/cross-entropy.
        max_epochs, patience, check_val_every_n_epoch, batch_size: as in the MLP grid.
        seed: initial weights and minibatch order.
        device: torch device.
    """

    def __init__(
        self,
        lr=1e-3,
        weight_decay=0.0,
        multilabel=False,
        max_epochs=100,
        patience=20,
        check_val_every_n_epoch=1,
        batch_size=1024,
        seed=0,
        device="cpu",
    ):
        self.lr, self.weight_decay, self.multilabel = lr, weight_decay, multilabel
        self.max_epochs, self.patience = max_epochs, patience
        self.check_val_every_n_epoch, self.batch_size = check_val_every_n_epoch, batch_size
        self.seed, self.device = seed, device

    def _config(self) -> dict:
        return {
            "hidden_layers": 0,
            "hidden_dim": 0,
            "dropout": 0.0,
            "initialization": "xavier_uniform_",
            **{k: getattr(self, k) for k in ("lr", "weight_decay", "max_epochs", "patience")},
            "check_val_every_n_epoch": self.check_val_every_n_epoch,
            "batch_size": self.batch_size,
        }

    def fit(self, X, Y, X_val=None, Y_val=None):
        """Fit on (X, Y); early stopping on the loss of (X_val, Y_val) (default: X, Y)."""
        X_val, Y_val = (X, Y) if X_val is None else (X_val, Y_val)
        x = torch.as_tensor(np.concatenate([X, X_val]), dtype=torch.float32, device=self.device)
        y = torch.as_tensor(np.concatenate([Y, Y_val]), dtype=torch.float32, device=self.device)
        n = len(X)
        (trained,) = train_grid(
            [self._config()],
            x,
            y,
            np.arange(n),
            np.arange(n, len(x)),
            _LossMonitor(self.multilabel),
            maximize=False,
            seeds=[self.seed],
            shuffle_seed=self.seed,
        )
        self.state_ = trained.state
        self.coef_ = trained.state["w0"][0].T.cpu().numpy()
        self.intercept_ = trained.state["b0"][0].cpu().numpy()
        self.best_epoch_ = trained.epoch
        return self

    def predict_proba(self, X) -> np.ndarray:
        x = torch.as_tensor(X, dtype=torch.float32, device=self.device)
        probs, _ = predict(self.state_, x, np.arange(len(x)), self.multilabel)
        return probs[0].cpu().numpy()


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def neighbour_scores(train_x, train_y, query_x, ks, chunk=2048) -> dict[int, np.ndarray]:
    """Label frequencies among the k most cosine-similar training rows, for every k in ks.

    The top max(ks) neighbours are found once; ties are broken by torch.topk.
    """
    train_x = _normalise(torch.as_tensor(train_x, dtype=torch.float32))
    train_y = torch.as_tensor(train_y, dtype=torch.float32)
    query_x = _normalise(torch.as_tensor(query_x, dtype=torch.float32).to(train_x.device))
    k_max = min(max(ks), len(train_x))
    out = {k: [] for k in ks}
    for start in range(0, len(query_x), chunk):
        sims = query_x[start : start + chunk] @ train_x.T
        top = sims.topk(k_max, dim=1).indices
        labels = train_y[top]  # (q, k_max, K)
        for k in ks:
            out[k].append(labels[:, : min(k, k_max)].mean(1))
    return {k: torch.cat(v).cpu().numpy() for k, v in out.items()}


class KNNProbe:
    """Cosine k-nearest-neighbour classifier; scores are neighbour label frequencies.

    Args:
        n_neighbors: k.
    """

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X, Y):
        self.X_ = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        self.Y_ = torch.as_tensor(np.asarray(Y), dtype=torch.float32)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return neighbour_scores(self.X_, self.Y_, X, [self.n_neighbors])[self.n_neighbors]
