"""Downstream probes as scikit-learn style estimators: an MLP, a linear probe and a cosine kNN.

They follow scikit-learn's conventions without depending on it: `__init__` only stores the
hyper-parameters, `fit` returns self, learned state ends in `_`, and `get_params` / `set_params`
read and change the hyper-parameters (so `sklearn.base.clone` works). Targets are one/multi-hot
float arrays (N, K).

Every probe is fitted as `fit(X, y, *, train_rows, valid_rows, validate, maximize)`: X and y hold
all rows of a task and the row indices pick the training and validation rows, so a k-fold rotation
never copies the embeddings. `validate(probabilities, mean loss) -> (value, post-processing)`
scores a validation check; without it the validation loss is monitored (minimised).

`ProbeGrid` fits one probe in many configurations at once and ranks them: MLP configurations are
trained stacked by `mlp.train_grid` (its speed trick), kNN neighbours are searched once for all k.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from heareval.predictions.estimator import Estimator, clone, rank
from heareval.predictions.grid import LINEAR_PARAM_GRID, TRAINER_KEYS
from heareval.predictions.mlp import Validator, loss_per_config, monitor_loss, predict, train_grid

KNN_K_GRID = (1, 5, 10, 20)


def take_rows(a: torch.Tensor, rows) -> torch.Tensor:
    """a[rows]; a view when the rows are one ascending run (a split), so nothing is copied."""
    rows = np.asarray(rows)
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
        return a[int(rows[0]) : int(rows[-1]) + 1]
    return a[torch.as_tensor(rows, device=a.device)]


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def proba_log_loss(probs: np.ndarray, targets: np.ndarray, multilabel: bool) -> float:
    """Mean (binary per label) cross-entropy of probabilities clipped to [1e-7, 1 - 1e-7]."""
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    if multilabel:
        return float(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean())
    return float(-np.log(p[np.arange(len(p)), targets.argmax(1)]).mean())


def _hot(probs: np.ndarray, multilabel: bool) -> np.ndarray:
    """Decisions in the targets' format: labels above 0.5, or a one-hot of the top class."""
    if multilabel:
        return (probs > 0.5).astype(np.float32)
    return np.eye(probs.shape[1], dtype=np.float32)[probs.argmax(1)]


def _check_monitor(validate: Optional[Validator], maximize: bool) -> Validator:
    if validate is None and maximize:
        raise ValueError("maximize=True needs a validate callable: the default monitors the loss")
    return validate if validate is not None else monitor_loss


class MLPProbe(Estimator):
    """An MLP on frozen embeddings trained by `mlp.train_grid`; hidden_layers=0 is linear.

    Hyper-parameters: the grid keys (see grid.py; values the trainer does not implement raise
    ValueError in `fit`), and
        multilabel: sigmoid and binary cross-entropy per label instead of softmax/cross-entropy.
        seed: initial weights and dropout masks.
        shuffle_seed: minibatch order (default: seed).
        device: where `fit` moves X and y (default: where they are; numpy arrays: the CPU).

    Fitted attributes: state_ (parameters, a stack of one), validation_score_, best_epoch_ and
    postprocessing_ of the best validation check, history_ (every check), n_features_in_.
    """

    def __init__(
        self,
        hidden_layers=1,
        hidden_dim=1024,
        dropout=0.1,
        lr=1e-3,
        weight_decay=0.0,
        patience=20,
        max_epochs=500,
        check_val_every_n_epoch=3,
        batch_size=1024,
        initialization="xavier_uniform_",
        hidden_norm="BatchNorm1d",
        norm_after_activation=False,
        embedding_norm="Identity",
        optim="Adam",
        multilabel=False,
        seed=0,
        shuffle_seed=None,
        device=None,
    ):
        self.hidden_layers = hidden_layers
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.max_epochs = max_epochs
        self.check_val_every_n_epoch = check_val_every_n_epoch
        self.batch_size = batch_size
        self.initialization = initialization
        self.hidden_norm = hidden_norm
        self.norm_after_activation = norm_after_activation
        self.embedding_norm = embedding_norm
        self.optim = optim
        self.multilabel = multilabel
        self.seed = seed
        self.shuffle_seed = shuffle_seed
        self.device = device

    def get_config(self) -> dict[str, Any]:
        """The configuration the trainer reads (grid keys and weight_decay)."""
        return {key: getattr(self, key) for key in sorted(TRAINER_KEYS)}

    def effective_shuffle_seed(self) -> int:
        """The seed of the minibatch order: shuffle_seed, or seed when that is None."""
        return self.seed if self.shuffle_seed is None else self.shuffle_seed

    def fit(self, X, y, *, train_rows=None, valid_rows=None, validate=None, maximize=False):
        """Train on `train_rows` (default all), early-stopping on `valid_rows` (default: train)."""
        self._fit_together([self], X, y, train_rows, valid_rows, validate, maximize)
        return self

    @staticmethod
    def _fit_together(probes, X, y, train_rows, valid_rows, validate, maximize, max_stack=None):
        """Fit several probes in one `train_grid` call (they share data, targets, minibatches)."""
        first = probes[0]
        shared = {(p.multilabel, p.device, p.effective_shuffle_seed()) for p in probes}
        if len(shared) != 1:
            raise ValueError("probes fitted together need one multilabel, device and shuffle_seed")
        x = torch.as_tensor(X, dtype=torch.float32, device=first.device)
        targets = torch.as_tensor(y, dtype=torch.float32, device=x.device)
        train = np.arange(len(x)) if train_rows is None else train_rows
        trained = train_grid(
            [p.get_config() for p in probes],
            x,
            targets,
            train,
            train if valid_rows is None else valid_rows,
            _check_monitor(validate, maximize),
            maximize=maximize,
            seeds=[p.seed for p in probes],
            shuffle_seed=first.effective_shuffle_seed(),
            max_stack=max_stack,
            multilabel=first.multilabel,
        )
        for probe, result in zip(probes, trained):
            probe._set_fitted(result, x.shape[1])

    def _set_fitted(self, result, n_features: int) -> None:
        self.state_ = result.state
        self.validation_score_ = result.value
        self.best_epoch_ = result.epoch
        self.postprocessing_ = result.postprocessing
        self.history_ = result.history
        self.n_features_in_ = n_features

    def _outputs(self, X) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, logits), each (N, K), on the device of the fitted state."""
        x = torch.as_tensor(X, dtype=torch.float32, device=self.state_["w0"].device)
        probs, logits = predict(self.state_, x, np.arange(len(x)), self.multilabel)
        return probs[0], logits[0]

    def predict_proba(self, X) -> np.ndarray:
        return self._outputs(X)[0].cpu().numpy()

    def decision_function(self, X) -> np.ndarray:
        """Logits (N, K)."""
        return self._outputs(X)[1].cpu().numpy()

    def predict(self, X) -> np.ndarray:
        return _hot(self.predict_proba(X), self.multilabel)

    def predict_with_loss(self, X, y) -> tuple[np.ndarray, Optional[np.ndarray], float]:
        """(probabilities, logits, mean loss against y) from one forward pass."""
        probs, logits = self._outputs(X)
        targets = torch.as_tensor(y, dtype=torch.float32, device=logits.device)
        loss = float(loss_per_config(logits[None], targets, self.multilabel)[0])
        return probs.cpu().numpy(), logits.cpu().numpy(), loss


class LinearProbe(MLPProbe):
    """Multinomial (or per-label logistic) regression: an MLPProbe without hidden layers.

    The keys it does not take keep the linear grid's values (grid.LINEAR_PARAM_GRID). Fitted
    attributes: those of MLPProbe, plus coef_ (K, D) and intercept_ (K,).
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
        initialization="xavier_uniform_",
        seed=0,
        shuffle_seed=None,
        device=None,
    ):
        self.lr = lr
        self.weight_decay = weight_decay
        self.multilabel = multilabel
        self.max_epochs = max_epochs
        self.patience = patience
        self.check_val_every_n_epoch = check_val_every_n_epoch
        self.batch_size = batch_size
        self.initialization = initialization
        self.seed = seed
        self.shuffle_seed = shuffle_seed
        self.device = device

    def get_config(self) -> dict[str, Any]:
        """The trainer's configuration: these hyper-parameters, the linear grid's for the rest."""
        params = self.get_params(deep=False)
        return {
            key: params[key] if key in params else LINEAR_PARAM_GRID[key][0]
            for key in sorted(TRAINER_KEYS)
        }

    def _set_fitted(self, result, n_features: int) -> None:
        super()._set_fitted(result, n_features)
        self.coef_ = result.state["w0"][0].T.cpu().numpy()
        self.intercept_ = result.state["b0"][0].cpu().numpy()


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
    out: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for start in range(0, len(query_x), chunk):
        sims = query_x[start : start + chunk] @ train_x.T
        top = sims.topk(k_max, dim=1).indices
        labels = train_y[top]  # (q, k_max, K)
        for k in ks:
            out[k].append(labels[:, : min(k, k_max)].mean(1))
    return {k: torch.cat(v).cpu().numpy() for k, v in out.items()}


class KNNProbe(Estimator):
    """Cosine k-nearest-neighbour classifier; scores are the neighbours' label frequencies.

    Args:
        n_neighbors: k (all training rows when there are fewer).
        multilabel: for the loss only: binary cross-entropy per label instead of cross-entropy.

    Fitted attributes: X_, Y_ (the training rows), n_features_in_, and from `valid_rows` (NaN and
    () without them) validation_score_ and postprocessing_; best_epoch_ is 0.
    """

    X_: torch.Tensor
    Y_: torch.Tensor

    def __init__(self, n_neighbors=5, multilabel=False):
        self.n_neighbors = n_neighbors
        self.multilabel = multilabel

    def get_config(self) -> dict[str, Any]:
        """The configuration a grid sets: only k."""
        return {"n_neighbors": self.n_neighbors}

    def fit(self, X, y, *, train_rows=None, valid_rows=None, validate=None, maximize=False):
        """Keep the training rows; score `valid_rows` with `validate` when they are given."""
        self._fit_together([self], X, y, train_rows, valid_rows, validate, maximize)
        return self

    @staticmethod
    def _fit_together(probes, X, y, train_rows, valid_rows, validate, maximize, max_stack=None):
        """Fit several k at once: the neighbours of the validation rows are searched once."""
        x = torch.as_tensor(X, dtype=torch.float32)
        targets = torch.as_tensor(y, dtype=torch.float32, device=x.device)
        train_x = x if train_rows is None else take_rows(x, train_rows)
        train_y = targets if train_rows is None else take_rows(targets, train_rows)
        monitor = _check_monitor(validate, maximize)
        if valid_rows is None and validate is not None:
            raise ValueError("validate needs valid_rows: a kNN has no validation rows by default")
        for probe in probes:  # one copy of the training rows serves every k
            probe.X_, probe.Y_, probe.n_features_in_ = train_x, train_y, x.shape[1]
            probe.validation_score_, probe.best_epoch_, probe.postprocessing_ = math.nan, 0, ()
        if valid_rows is None:
            return
        ks = [p.n_neighbors for p in probes]
        found = neighbour_scores(train_x, train_y, take_rows(x, valid_rows), ks)
        valid_y = _numpy(take_rows(targets, valid_rows))
        for probe in probes:
            probs = found[probe.n_neighbors]
            loss = proba_log_loss(probs, valid_y, probe.multilabel)
            probe.validation_score_, probe.postprocessing_ = monitor(probs, loss)

    def predict_proba(self, X) -> np.ndarray:
        return neighbour_scores(self.X_, self.Y_, X, [self.n_neighbors])[self.n_neighbors]

    def predict(self, X) -> np.ndarray:
        return _hot(self.predict_proba(X), self.multilabel)

    def predict_with_loss(self, X, y) -> tuple[np.ndarray, Optional[np.ndarray], float]:
        """(probabilities, None: a kNN has no logits, mean loss of the clipped probabilities)."""
        probs = self.predict_proba(X)
        return probs, None, proba_log_loss(probs, _numpy(y), self.multilabel)


class ProbeGrid(Estimator):
    """One probe fitted in several configurations at once, ranked on the validation rows.

    Args:
        estimator: the unfitted probe whose hyper-parameters the configurations set.
        configs: hyper-parameter dicts. A key that is not a hyper-parameter of `estimator` must
            equal the value the estimator fixes (LinearProbe: hidden_layers 0, ...).
        seeds: one `seed` per configuration (default: the estimator's); all configurations share
            the estimator's minibatch order (its shuffle_seed, or else its seed).
        max_stack: most MLP configurations trained in one stack (see mlp.train_grid).

    Fitted attributes:
        estimators_: one fitted probe per configuration, in the order of `configs`.
        results_: per configuration {"hparams", "validation_score", "epoch", "postprocessing"}.
        ranking_: configuration indices best first (NaN last, ties in configuration order).
        best_index_, best_estimator_, best_params_, best_score_: the first of the ranking.
    """

    def __init__(self, estimator, configs, seeds=None, max_stack=None):
        self.estimator = estimator
        self.configs = configs
        self.seeds = seeds
        self.max_stack = max_stack

    def _configured(self, i: int) -> Any:
        """A clone of the estimator set to configuration i and seed i."""
        probe: Any = clone(self.estimator)
        config, params = self.configs[i], probe.get_params(deep=False)
        probe.set_params(**{k: v for k, v in config.items() if k in params})
        fixed = probe.get_config()
        for key, value in config.items():
            if key not in params and (key not in fixed or fixed[key] != value):
                have = f"fixes {key}={fixed[key]!r}" if key in fixed else f"has no {key!r}"
                raise ValueError(f"{type(probe).__name__} {have}; configuration {i} sets {value!r}")
        if self.seeds is not None:
            if "seed" not in params:
                raise ValueError(f"{type(probe).__name__} takes no seed")
            shuffle = self.estimator.effective_shuffle_seed()
            probe.set_params(seed=self.seeds[i], shuffle_seed=shuffle)
        return probe

    def fit(self, X, y, *, train_rows=None, valid_rows=None, validate=None, maximize=False):
        """Fit every configuration (as the probe's own `fit` would) and rank them."""
        if not self.configs:
            raise ValueError("ProbeGrid needs at least one configuration")
        probes = [self._configured(i) for i in range(len(self.configs))]
        fit_many = type(probes[0])._fit_together
        fit_many(probes, X, y, train_rows, valid_rows, validate, maximize, self.max_stack)
        self.estimators_ = probes
        self.results_ = [
            {
                "hparams": dict(config),
                "validation_score": probe.validation_score_,
                "epoch": probe.best_epoch_,
                "postprocessing": list(probe.postprocessing_),
            }
            for config, probe in zip(self.configs, probes)
        ]
        self.ranking_ = rank([p.validation_score_ for p in probes], maximize)
        self.best_index_ = self.ranking_[0]
        self.best_estimator_ = probes[self.best_index_]
        self.best_params_ = dict(self.configs[self.best_index_])
        self.best_score_ = self.best_estimator_.validation_score_
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.best_estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.best_estimator_.predict(X)

    def predict_with_loss(self, X, y) -> tuple[np.ndarray, Optional[np.ndarray], float]:
        return self.best_estimator_.predict_with_loss(X, y)
