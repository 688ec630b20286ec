"""Train many MLP configurations at once: stacked weights, one pass over each minibatch.

Configurations sharing an architecture (hidden_layers, hidden_dim, batch_size) are stacked along a
leading config dimension: the first layer is one matrix product of the shared minibatch with all
configurations' weights, later layers are batched matrix products, BatchNorm statistics, dropout
masks, learning rates and weight decay are per configuration, and torch's fused Adam updates each
configuration's slice of the stack with its own learning rate and decay. A configuration that
stops (early stopping or max_epochs) keeps its best state and leaves the stack.

Randomness is arranged so that training n configurations together equals training each alone:
every configuration draws its initial weights and dropout masks from its own generator (seeded by
the caller, normally from the configuration itself), and the minibatch order of each epoch comes
from a generator shared by the group and seeded identically, so it does not depend on which
configurations are trained alongside. Training batches are reshuffled every epoch (the old kit
never reshuffled). A trailing minibatch of a single row is skipped: BatchNorm cannot normalise it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.adam import adam

from hearcore.allocator import reuse_freed_memory
from heareval.predictions.grid import check_config
from heareval.predictions.norm import BN_EPS, TrainingNorm

BETAS, ADAM_EPS, BN_MOMENTUM = (0.9, 0.999), 1e-8, 0.1
PREDICT_BATCH = 4096
# On a CPU the matrix products are compute-bound already and big stacks spill the caches: per
# configuration and step (2 x 1024 hidden, batch 1024, 2 cores) 73 ms alone, 66 ms in stacks of 2
# or 4, 103 ms in one of 8 (benchmarks/grid_training.py).
CPU_STACK = 2

# validate(probabilities (N, K), mean loss) -> (monitored value, chosen post-processing)
Validator = Callable[[np.ndarray, float], tuple[float, tuple]]


def monitor_loss(probs: np.ndarray, loss: float) -> tuple[float, tuple]:
    """The validator that monitors the validation loss itself (to be minimised)."""
    return loss, ()


@dataclass
class Trained:
    """One configuration after training: its best state as a stack of size 1.

    `value`, `epoch` and `postprocessing` are those of the best validation check; `history` holds
    every check's epoch, value and loss.
    """

    config: dict
    value: float = math.nan
    epoch: int = -1
    postprocessing: tuple = ()
    state: dict = field(default_factory=dict)
    history: list = field(default_factory=list)


def _n_layers(state: dict) -> int:
    return sum(1 for k in state if k.startswith("w"))


def init_state(configs: list[dict], dim: int, n_out: int, seeds: list[int], device) -> dict:
    """Stacked initial parameters and BatchNorm buffers, each config from its own generator."""
    n_hidden, width = configs[0]["hidden_layers"], configs[0]["hidden_dim"]
    sizes = [dim] + [width] * n_hidden + [n_out]
    per_config = []
    for config, seed in zip(configs, seeds):
        gen = torch.Generator().manual_seed(seed)
        tensors = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            gain = 1.0 if i == 0 else math.sqrt(2.0)
            if config["initialization"] == "xavier_uniform_":
                bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
                w = (torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * bound
            elif config["initialization"] == "xavier_normal_":
                std = gain * math.sqrt(2.0 / (fan_in + fan_out))
                w = torch.randn(fan_in, fan_out, generator=gen) * std
            else:
                raise ValueError(f"Unknown initialization {config['initialization']!r}")
            bias_bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default bias init
            tensors[f"w{i}"] = w
            tensors[f"b{i}"] = (torch.rand(fan_out, generator=gen) * 2 - 1) * bias_bound
        for i in range(n_hidden):
            tensors[f"gamma{i}"], tensors[f"beta{i}"] = torch.ones(width), torch.zeros(width)
            tensors[f"mean{i}"], tensors[f"var{i}"] = torch.zeros(width), torch.ones(width)
        per_config.append(tensors)
    return {k: torch.stack([t[k] for t in per_config]).to(device) for k in per_config[0]}


def forward(
    state: dict, x: torch.Tensor, masks: list | None = None, inverse_keep=None
) -> torch.Tensor:
    """Logits (C, B, K) of every stacked configuration for one input batch x (B, D).

    With `masks` (training: per hidden layer (C, B, width), 1 where a unit is kept; kept units
    scaled by `inverse_keep` (C, 1, 1), default 1) BatchNorm uses batch statistics and updates
    its running buffers in place; without, it uses them (evaluation). BatchNorm subtracts its
    input's mean, so a hidden layer's (frozen) bias goes into the running mean instead.
    """
    n_layers = _n_layers(state)
    h = x
    for i in range(n_layers):
        w, b = state[f"w{i}"], state[f"b{i}"]
        if i == n_layers - 1:  # x (B, D) broadcasts over the stack; later h is (C, B, width)
            return torch.baddbmm(b[:, None, :], h.expand(len(w), -1, -1), w)
        h = torch.matmul(h, w)
        gamma, beta = state[f"gamma{i}"][:, None, :], state[f"beta{i}"][:, None, :]
        if masks is None:
            scale = gamma * torch.rsqrt(state[f"var{i}"][:, None, :] + BN_EPS)
            shift = beta - (state[f"mean{i}"] - b)[:, None, :] * scale
            h = torch.relu(torch.addcmul(shift, h, scale))
            continue
        keep = torch.ones(()) if inverse_keep is None else inverse_keep
        h, mean, var = TrainingNorm.apply(h, gamma, beta, masks[i], keep.to(h.device))
        with torch.no_grad():
            n = h.shape[1]
            state[f"mean{i}"].lerp_(mean[:, 0] + b, BN_MOMENTUM)
            state[f"var{i}"].lerp_(var[:, 0] * n / (n - 1), BN_MOMENTUM)
    return h


def loss_per_config(
    logits: torch.Tensor, y: torch.Tensor, multilabel: bool, classes=None
) -> torch.Tensor:
    """Mean loss of each configuration (C,): BCE-with-logits or cross-entropy.

    `classes` (B,): the class index of every row of a multiclass y, when the caller has it.
    """
    n_configs, batch, n_out = logits.shape
    if multilabel:
        target = y.expand(n_configs, batch, n_out)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2))
    target = (y.argmax(1) if classes is None else classes).repeat(n_configs)
    flat = F.cross_entropy(logits.reshape(-1, n_out), target, reduction="none")
    return flat.view(n_configs, batch).mean(1)


def predict(state: dict, x: torch.Tensor, rows, multilabel: bool) -> tuple[torch.Tensor, ...]:
    """(probabilities, logits), each (C, N, K), for rows of x, in evaluation mode."""
    rows = torch.as_tensor(rows, device=x.device)
    with torch.inference_mode():
        logits = torch.cat(
            [
                forward(state, x[rows[i : i + PREDICT_BATCH]])
                for i in range(0, len(rows), PREDICT_BATCH)
            ],
            dim=1,
        )
        probs = torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1)
    return probs, logits


class _Group:
    """Live configurations of one architecture and their optimiser state."""

    def __init__(self, configs, ids, seeds, dim, n_out, device):
        self.ids = list(ids)
        self.configs = configs
        self.state = init_state(configs, dim, n_out, seeds, device)
        # A hidden Linear's bias feeds BatchNorm, which subtracts it again: its gradient is zero in
        # exact arithmetic, and Adam would turn the float round-off into lr-sized random steps
        # that only leak into the evaluation-mode running mean (and make results depend on how
        # many configurations share a matrix product). It stays at its initial value.
        n_hidden = configs[0]["hidden_layers"]
        frozen = {f"b{i}" for i in range(n_hidden)}
        self.params = [k for k in self.state if k[0] in "wbg" and k not in frozen]
        for k in self.params:
            self.state[k].requires_grad_(True)
        self.m = {k: torch.zeros_like(self.state[k]) for k in self.params}
        self.v = {k: torch.zeros_like(self.state[k]) for k in self.params}
        self.gens = []
        for seed in seeds:  # dropout masks: a second per-config stream, on the data's device
            self.gens.append(torch.Generator(device=device).manual_seed(seed + 1))
        # fused Adam's step counters: one float32 scalar per parameter, on its device
        self.steps = [[torch.zeros((), device=device) for _ in self.params] for _ in configs]
        self._refresh()

    def _refresh(self):
        dev = self.state["w0"].device
        keep = torch.tensor([1.0 - c["dropout"] for c in self.configs], dtype=torch.float64)
        # A unit is kept when its 15 random bits are below round(keep 2^15): keep to within
        # 2^-16, and the kept units are scaled by the inverse of that realised probability.
        levels = (keep * 2**15).round()
        self.below = (levels - 1).to(torch.int16).to(dev)[None, :, None]
        self.inverse_keep = (2**15 / levels).to(torch.float32).to(dev)[:, None, None]
        self._words = torch.empty(0, dtype=torch.int64)  # masks' buffers, sized by first batch

    def masks(self, batch: int, device) -> list:
        """Dropout masks (C, batch, width) per hidden layer: 1.0 where a unit is kept, else 0.

        Each configuration fills 64-bit words from its own generator; a word holds four 15-bit
        draws (the top bit of each 16-bit quarter is dropped: random_ leaves an int64's sign bit
        zero), a quarter of the generator calls of a float per unit. The buffers are reused: a
        step's masks are dead once its gradients are taken.
        """
        n_hidden, width = self.configs[0]["hidden_layers"], self.configs[0]["hidden_dim"]
        if n_hidden == 0:  # a linear probe: nothing to drop
            return []
        units, n_configs = batch * width, len(self.gens)
        words = -(-units // 4)
        if self._words.shape[-1] < words:  # a trailing short batch uses the front
            shape = (n_hidden, n_configs, words)
            self._words = torch.empty(shape, dtype=torch.int64, device=device)
            self._bits = torch.empty(shape[:2] + (4 * words,), dtype=torch.int16, device=device)
            self._masks = torch.empty(shape[:2] + (4 * words,), device=device)
        for i in range(n_hidden):
            for j, gen in enumerate(self.gens):
                self._words[i, j, :words].random_(generator=gen)
        quarters = self._words.view(torch.int16)[..., :units]
        bits = torch.bitwise_and(quarters, 0x7FFF, out=self._bits[..., :units])
        masks = torch.le(bits, self.below, out=self._masks[..., :units])
        return list(masks.view(n_hidden, n_configs, batch, width))

    def adam_step(self, grads):
        """torch's fused Adam (coupled weight decay) on each configuration's slice of the stack.

        One kernel per configuration reads each parameter, gradient and moment once (the former
        hand-written step made six passes); it rounds differently (docs/benchmarks.md).
        """
        with torch.no_grad():
            for j, config in enumerate(self.configs):
                adam(
                    [self.state[k][j] for k in self.params],
                    [g[j] for g in grads],
                    [self.m[k][j] for k in self.params],
                    [self.v[k][j] for k in self.params],
                    [],
                    self.steps[j],
                    fused=True,
                    amsgrad=False,
                    beta1=BETAS[0],
                    beta2=BETAS[1],
                    lr=config["lr"],
                    weight_decay=config.get("weight_decay", 0.0),
                    eps=ADAM_EPS,
                    maximize=False,
                )

    def snapshot(self, j: int) -> dict:
        return {k: v[j : j + 1].detach().clone() for k, v in self.state.items()}

    def keep_only(self, positions: list[int]):
        index = torch.tensor(positions, device=self.state["w0"].device, dtype=torch.long)
        with torch.no_grad():
            for d in (self.state, self.m, self.v):
                for k in d:
                    d[k] = d[k].index_select(0, index).detach()
        for k in self.params:
            self.state[k].requires_grad_(True)
        self.ids = [self.ids[j] for j in positions]
        self.configs = [self.configs[j] for j in positions]
        self.gens = [self.gens[j] for j in positions]
        self.steps = [self.steps[j] for j in positions]
        self._refresh()


def _improved(value: float, best: float, maximize: bool) -> bool:
    if math.isnan(value):
        return False
    if math.isnan(best):
        return True
    return value > best if maximize else value < best


def _train_group(group, results, x, y, split_rows, validate, multilabel, maximize, shuffle_seed):
    """Train one stack until every configuration in it has stopped."""
    train_rows, valid_rows = split_rows
    device = x.device
    batch_size = group.configs[0]["batch_size"]
    shuffler = torch.Generator().manual_seed(shuffle_seed)
    train_rows = torch.as_tensor(train_rows, device=device)
    classes = None if multilabel else y.argmax(1)
    waits = {i: 0 for i in group.ids}
    epoch = 0
    while group.ids:
        order = train_rows[torch.randperm(len(train_rows), generator=shuffler).to(device)]
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            if len(rows) < 2:
                continue
            masks = group.masks(len(rows), device)
            logits = forward(group.state, x[rows], masks, group.inverse_keep)
            batch_classes = None if classes is None else classes[rows]
            loss = loss_per_config(logits, y[rows], multilabel, batch_classes).sum()
            group.adam_step(torch.autograd.grad(loss, [group.state[k] for k in group.params]))
        due = [
            j
            for j, i in enumerate(group.ids)
            if (epoch + 1) % results[i].config["check_val_every_n_epoch"] == 0
        ]
        check = (results, waits, x, y, valid_rows, validate, multilabel, maximize, epoch)
        if due:
            _validate(group, due, *check)
        keep = []
        for j, i in enumerate(group.ids):
            config = results[i].config
            done = epoch + 1 >= config["max_epochs"] or waits[i] >= config["patience"]
            if done and not results[i].state:  # never validated: keep the final state
                _validate(group, [j], *check)
            if not done:
                keep.append(j)
        if len(keep) < len(group.ids):
            group.keep_only(keep)
        epoch += 1


def _validate(group, due, results, waits, x, y, valid_rows, validate, multilabel, maximize, epoch):
    """One validation check of the stacked configurations at positions `due`; keeps best states."""
    probs, logits = predict(group.state, x, valid_rows, multilabel)
    rows = torch.as_tensor(valid_rows, device=x.device)
    losses = loss_per_config(logits, y[rows], multilabel)
    for j in due:
        i = group.ids[j]
        value, postprocessing = validate(probs[j].cpu().numpy(), float(losses[j]))
        result = results[i]
        result.history.append({"epoch": epoch, "value": value, "loss": float(losses[j])})
        improved = _improved(value, result.value, maximize)
        waits[i] = 0 if improved else waits[i] + 1
        if improved or not result.state:
            result.value, result.epoch, result.postprocessing = value, epoch, postprocessing
            result.state = group.snapshot(j)


def train_grid(
    configs: list[dict],
    x: torch.Tensor,
    y: torch.Tensor,
    train_rows,
    valid_rows,
    validate: Validator,
    *,
    maximize: bool,
    seeds: list[int],
    shuffle_seed: int,
    max_stack: int | None = None,
    multilabel: bool = False,
) -> list[Trained]:
    """Train every configuration, batched per architecture, with per-config early stopping.

    Args:
        configs: hyper-parameter dicts (grid.py keys; optional weight_decay), checked with
            `grid.check_config`: a key the trainer would ignore raises ValueError.
        x, y: the task's embeddings (N, D) and targets (N, K), on the training device.
        train_rows, valid_rows: row indices of x.
        validate: callable (probabilities, mean loss) -> (value, post-processing); the monitored
            value of a validation check (`monitor_loss` monitors the loss).
        maximize: whether a larger monitored value is better.
        seeds: one seed per configuration (initial weights and dropout masks).
        shuffle_seed: seed of the minibatch order (shared by all configurations).
        max_stack: most configurations trained in one stack; default all on CUDA, CPU_STACK
            on a CPU. Results do not depend on it.
        multilabel: sigmoid and binary cross-entropy per label; else softmax and cross-entropy.

    Returns:
        One `Trained` per configuration, in the order of `configs`.
    """
    for config in configs:
        check_config(config)
    # Every step allocates and frees the same autograd buffers: served from fresh pages each time
    # they cost page faults, on a VM as much as the arithmetic (docs/benchmarks.md). Idempotent.
    reuse_freed_memory()
    results = [Trained(config=dict(c)) for c in configs]
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c["hidden_layers"], c["hidden_dim"], c["batch_size"]), []).append(i)
    size = max_stack or (len(configs) if x.device.type == "cuda" else CPU_STACK)
    stacks = [ids[i : i + size] for ids in groups.values() for i in range(0, len(ids), size)]
    for ids in stacks:
        group = _Group(
            [configs[i] for i in ids],
            ids,
            [seeds[i] for i in ids],
            x.shape[1],
            y.shape[1],
            x.device,
        )
        split_rows = (train_rows, valid_rows)
        _train_group(group, results, x, y, split_rows, validate, multilabel, maximize, shuffle_seed)
    return results
