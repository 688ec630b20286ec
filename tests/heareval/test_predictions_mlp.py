"""The batched grid trainer: equal to training each configuration alone, early stopping, BN,
the loss chosen by the caller's multilabel, configurations it cannot honour rejected, and its
fused parts (Adam, dropout masks, BatchNorm block) against independent implementations."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from heareval.predictions.data import make_clusters
from heareval.predictions.grid import FASTER_PARAM_GRID, PARAM_GRID, enumerate_grid
from heareval.predictions.mlp import (
    ADAM_EPS,
    BETAS,
    BN_EPS,
    _Group,
    forward,
    init_state,
    monitor_loss,
    predict,
    train_grid,
)
from heareval.predictions.norm import TrainingNorm


class Top1:
    """Validator monitoring validation accuracy (a local stand-in: no metric module needed)."""

    multilabel = False

    def __init__(self, targets):
        self.targets = targets

    def __call__(self, probs, loss):
        return float((probs.argmax(1) == self.targets).mean()), ()


def data(n=240, dim=12, classes=4, noise=1.0):
    x, c = make_clusters(n, dim, classes, noise, seed=1)
    y = np.eye(classes, dtype=np.float32)[c]
    return torch.tensor(x), torch.tensor(y), c


def configs():
    base = {k: v[0] for k, v in PARAM_GRID.items()}
    base.update(hidden_dim=16, batch_size=32, max_epochs=8, patience=2, check_val_every_n_epoch=2)
    variants = [
        dict(hidden_layers=1, lr=1e-2, initialization="xavier_uniform_"),
        dict(hidden_layers=1, lr=1e-3, initialization="xavier_normal_", dropout=0.3),
        dict(hidden_layers=2, lr=3.2e-3, initialization="xavier_uniform_", max_epochs=5),
        dict(hidden_layers=0, lr=1e-2, initialization="xavier_normal_", weight_decay=1e-3),
        dict(
            hidden_layers=1, lr=3.2e-3, initialization="xavier_uniform_", check_val_every_n_epoch=3
        ),
    ]
    return [{**base, **v} for v in variants]


def run(cfgs, seeds, x, y, c):
    train, valid = np.arange(0, 160), np.arange(160, 240)
    return train_grid(
        cfgs, x, y, train, valid, Top1(c[valid]), maximize=True, seeds=seeds, shuffle_seed=5
    )


def test_batched_equals_one_after_another():
    x, y, c = data()
    cfgs, seeds = configs(), [11, 12, 13, 14, 15]
    together = run(cfgs, seeds, x, y, c)
    for i, config in enumerate(cfgs):
        (alone,) = run([config], [seeds[i]], x, y, c)
        mine = together[i]
        assert mine.config == alone.config
        assert mine.epoch == alone.epoch
        assert mine.value == pytest.approx(alone.value)
        assert [h["epoch"] for h in mine.history] == [h["epoch"] for h in alone.history]
        for key, tensor in alone.state.items():
            torch.testing.assert_close(mine.state[key], tensor, rtol=1e-4, atol=1e-5)


def test_early_stopping_and_schedule():
    x, y, c = data()
    results = run(configs(), [1, 2, 3, 4, 5], x, y, c)
    for result in results:
        epochs = [h["epoch"] for h in result.history]
        every = result.config["check_val_every_n_epoch"]
        assert all((e + 1) % every == 0 for e in epochs)
        assert max(epochs) < result.config["max_epochs"]
        values = [h["value"] for h in result.history]
        assert result.value == max(values)
        assert result.epoch == epochs[values.index(max(values))]


def test_patience_counts_validation_checks():
    x, y, c = data()
    config = {**configs()[0], "lr": 0.0, "max_epochs": 50, "patience": 3}
    (result,) = run([config], [0], x, y, c)
    # With lr 0 nothing improves after the first check: 1 + patience checks, every 2 epochs.
    assert [h["epoch"] for h in result.history] == [1, 3, 5, 7]


def test_initialisation_follows_xavier_and_bn_running_stats():
    grid = {**FASTER_PARAM_GRID, "hidden_layers": [1], "hidden_dim": [256]}
    cfg = enumerate_grid(grid)
    uniform = next(c for c in cfg if c["initialization"] == "xavier_uniform_")
    normal = next(c for c in cfg if c["initialization"] == "xavier_normal_")
    state = init_state([uniform, normal], 512, 256, [0, 0], "cpu")
    bound = np.sqrt(6 / (512 + 256))
    assert state["w0"][0].abs().max() <= bound
    assert state["w0"][0].std().item() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    assert state["w1"][1].std().item() == pytest.approx(np.sqrt(2) * np.sqrt(2 / 512), rel=0.02)
    x = torch.randn(64, 512) * 3 + 1
    masks = [torch.ones(2, 64, 256)]
    h = torch.einsum("bd,cdh->cbh", x, state["w0"]) + state["b0"][:, None]
    forward(state, x, masks)
    torch.testing.assert_close(state["mean0"], 0.1 * h.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(state["var0"], 0.9 + 0.1 * h.var(1), rtol=1e-4, atol=1e-5)
    probs, logits = predict(state, x, np.arange(64), multilabel=False)
    assert probs.shape == (2, 64, 256)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 64))


def test_multilabel_comes_from_the_caller():
    x, _, c = data()
    y = torch.zeros(len(x), 4)
    y[torch.arange(len(x)), torch.as_tensor(c)] = 1.0
    y[:, 0] = 1.0  # two labels on most rows: multilabel targets
    config = {**configs()[0], "max_epochs": 1, "check_val_every_n_epoch": 1}
    train, valid = np.arange(0, 160), np.arange(160, 240)
    # monitor_loss is a plain function: the trainer cannot read multilabel from the validator.
    for multilabel, loss_fn in ((True, F.binary_cross_entropy_with_logits), (False, None)):
        (result,) = train_grid(
            [config],
            x,
            y,
            train,
            valid,
            monitor_loss,
            maximize=False,
            seeds=[0],
            shuffle_seed=0,
            multilabel=multilabel,
        )
        _, logits = predict(result.state, x, valid, multilabel)
        if loss_fn is None:  # cross-entropy against the first label of each row (argmax)
            expected = F.cross_entropy(logits[0], y[valid].argmax(1))
        else:
            expected = loss_fn(logits[0], y[valid])
        assert result.history[0]["loss"] == pytest.approx(float(expected), rel=1e-5)
        assert result.value == result.history[0]["loss"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"hidden_norm": "LayerNorm"}, "hidden_norm='LayerNorm' is not implemented"),
        ({"norm_after_activation": True}, "norm_after_activation=True is not implemented"),
        ({"embedding_norm": "LayerNorm"}, "embedding_norm='LayerNorm' is not implemented"),
        ({"optim": "SGD"}, "optim='SGD' is not implemented"),
        ({"momentum": 0.9}, r"unknown MLP hyper-parameter\(s\) \['momentum'\]"),
    ],
)
def test_configurations_the_trainer_cannot_honour_are_rejected(change, message):
    x, y, c = data()
    with pytest.raises(ValueError, match=message):
        run([configs()[0], {**configs()[1], **change}], [0, 1], x, y, c)


def torch_adam_reference(group, grads_per_step):
    """Each configuration's parameters trained alone by torch.optim.Adam's plain (for-loop)
    implementation, from the group's initial values: the stacked fused step must agree."""
    per_config = []
    for j, config in enumerate(group.configs):
        params = [torch.nn.Parameter(group.state[k][j].detach().clone()) for k in group.params]
        optimiser = torch.optim.Adam(
            params,
            lr=config["lr"],
            betas=BETAS,
            eps=ADAM_EPS,
            weight_decay=config.get("weight_decay", 0.0),
            foreach=False,
            fused=False,
        )
        for grads in grads_per_step:
            for p, k in zip(params, group.params):
                p.grad = grads[k][j].clone()
            optimiser.step()
        per_config.append(params)
    return per_config


@pytest.mark.parametrize("decay", [(0.0, 0.0), (1e-3, 0.0), (1e-2, 1e-4)])
def test_stacked_fused_adam_matches_torch_adam_per_configuration(decay):
    base = {**configs()[0], "hidden_layers": 2, "dropout": 0.3}
    cfgs = [{**base, "lr": 1e-2, "weight_decay": decay[0]}, {**base, "lr": 3.2e-4,
            "weight_decay": decay[1], "dropout": 0.1}]  # fmt: skip
    group = _Group(cfgs, [0, 1], [7, 8], 12, 4, "cpu")
    gen = torch.Generator().manual_seed(0)
    grads_per_step = [
        {k: torch.randn(group.state[k].shape, generator=gen) for k in group.params}
        for _ in range(5)
    ]
    expected = torch_adam_reference(group, grads_per_step)
    for grads in grads_per_step:
        group.adam_step([grads[k] for k in group.params])
    for j in range(2):
        for k, want in zip(group.params, expected[j]):
            got = group.state[k][j].detach()
            assert not torch.equal(got, grads_per_step[0][k][j])  # the step moved it
            torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-6, msg=k)


def expected_masks(seed: int, draws: list[int], keep: float, width: int):
    """Masks from the same generator stream, decoded with integer shifts (not int16 views)."""
    gen = torch.Generator().manual_seed(seed + 1)
    levels = round(keep * 2**15)
    for batch in draws:
        units = batch * width
        words = torch.empty(-(-units // 4), dtype=torch.int64).random_(generator=gen).numpy()
        quarters = np.stack([(words >> (16 * q)) & 0x7FFF for q in range(4)], axis=1).ravel()
        yield (quarters[:units] < levels).reshape(batch, width)


def test_dropout_masks_come_from_each_configurations_own_stream():
    base = {**configs()[0], "hidden_layers": 2, "hidden_dim": 64}
    cfgs = [{**base, "dropout": 0.3}, {**base, "dropout": 0.1}, {**base, "dropout": 0.0}]
    group = _Group(cfgs, [0, 1, 2], [7, 8, 9], 12, 4, "cpu")
    batches = [32, 32, 5, 32]  # a short batch uses the front of the kept buffers
    # the masks live in buffers the next step overwrites: copy each step's
    steps = [[m.clone() for m in group.masks(batch, "cpu")] for batch in batches]
    for j, (seed, config) in enumerate(zip([7, 8, 9], cfgs)):
        keep = 1 - config["dropout"]
        draws = [b for b in batches for _ in range(2)]  # one draw per hidden layer and step
        wanted = list(expected_masks(seed, draws, keep, 64))
        got = [step[i][j].numpy() for step in steps for i in range(2)]
        for step, (mine, theirs) in enumerate(zip(got, wanted)):
            np.testing.assert_array_equal(mine, theirs.astype(np.float32), err_msg=str(step))
        share = np.concatenate([g.ravel() for g in got]).mean()
        assert share == pytest.approx(keep, abs=0.03)
        assert float(group.inverse_keep[j]) == pytest.approx(1 / keep, rel=1e-4)


def test_training_norm_matches_batch_norm_relu_and_dropout_in_float64():
    torch.manual_seed(0)
    h = torch.randn(2, 9, 6, dtype=torch.float64, requires_grad=True)
    gamma = torch.randn(2, 1, 6, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(2, 1, 6, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(2, 9, 6) < 0.7).double()
    inverse_keep = torch.tensor([1 / 0.7, 1 / 0.9], dtype=torch.float64)[:, None, None]

    def mine(h, gamma, beta):
        return TrainingNorm.apply(h, gamma, beta, mask, inverse_keep)[0]

    def torch_reference(h, gamma, beta):  # torch's BatchNorm, per configuration
        normed = [
            F.batch_norm(h[j], None, None, gamma[j, 0], beta[j, 0], training=True, eps=BN_EPS)
            for j in range(2)
        ]
        return torch.relu(torch.stack(normed)) * mask * inverse_keep

    torch.testing.assert_close(mine(h, gamma, beta), torch_reference(h, gamma, beta))
    assert torch.autograd.gradcheck(mine, (h, gamma, beta))
    out = mine(h, gamma, beta)
    grads = torch.autograd.grad(out.square().sum(), (h, gamma, beta))
    wanted = torch.autograd.grad(torch_reference(h, gamma, beta).square().sum(), (h, gamma, beta))
    for got, want in zip(grads, wanted):
        torch.testing.assert_close(got, want)
