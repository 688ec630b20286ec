"""The probe estimators: scikit-learn conventions, alone, in a ProbeGrid, through the protocol."""

import numpy as np
import pytest
import torch
from embedding_models.tasks import scene_task
from sklearn.base import clone as sklearn_clone

from heareval.predictions.data import make_clusters
from heareval.predictions.estimator import clone
from heareval.predictions.grid import LINEAR_PARAM_GRID, enumerate_grid
from heareval.predictions.mlp import monitor_loss, train_grid
from heareval.predictions.probes import (
    KNNProbe,
    LinearProbe,
    MLPProbe,
    ProbeGrid,
    neighbour_scores,
    take_rows,
)
from heareval.predictions.protocol import run_protocol


def split_data():
    x, c = make_clusters(300, 10, 3, 0.3, seed=2)
    y = np.eye(3, dtype=np.float32)[c]
    return x[:200], y[:200], x[200:], y[200:]


def all_rows():
    """Train and test stacked, with their row indices (the probes' fit takes rows)."""
    x_train, y_train, x_test, y_test = split_data()
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]), 200


def test_knn_probe_frequencies_and_accuracy():
    x_train, y_train, x_test, y_test = split_data()
    probe = KNNProbe(n_neighbors=5)
    assert probe.fit(x_train, y_train) is probe
    assert probe.X_.shape == (200, 10)
    probs = probe.predict_proba(x_test)
    assert np.allclose(probs.sum(1), 1.0)
    assert set(np.unique(probs * 5)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert (probs.argmax(1) == y_test.argmax(1)).mean() == 1.0
    assert np.array_equal(probe.predict(x_test), y_test)
    one = neighbour_scores(x_train, y_train, x_train[:3] * 7.0, [1])[1]
    assert np.array_equal(one, y_train[:3])  # cosine: scale does not matter, itself is nearest


def test_linear_probe_fits():
    x, y, n = all_rows()
    probe = LinearProbe(lr=1e-2, max_epochs=30, batch_size=32, patience=5)
    fitted = probe.fit(x, y, train_rows=np.arange(n), valid_rows=np.arange(n, len(x)))
    assert fitted is probe
    assert probe.coef_.shape == (3, 10) and probe.intercept_.shape == (3,)
    assert 0 <= probe.best_epoch_ < 30 and probe.n_features_in_ == 10
    assert (probe.predict_proba(x[n:]).argmax(1) == y[n:].argmax(1)).mean() == 1.0
    # The monitored value is the validation loss: it is the loss of the kept state.
    _, logits, loss = probe.predict_with_loss(x[n:], y[n:])
    assert probe.validation_score_ == pytest.approx(loss, rel=1e-5)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(y[n:]))
    assert loss == pytest.approx(float(expected), rel=1e-5)
    assert np.allclose(probe.decision_function(x[n:]), logits)


def test_params_follow_sklearn_and_clone():
    probe = MLPProbe(hidden_layers=2, lr=3.2e-3, seed=4)
    params = probe.get_params()
    assert params["hidden_layers"] == 2 and params["lr"] == 3.2e-3 and params["seed"] == 4
    assert "state_" not in params and not hasattr(probe, "state_")
    assert probe.set_params(dropout=0.3) is probe and probe.dropout == 0.3
    with pytest.raises(ValueError, match="no hyper-parameter 'learning_rate'"):
        probe.set_params(learning_rate=1.0)
    grid = ProbeGrid(LinearProbe(multilabel=True), [{"lr": 1e-2}], seeds=[3])
    assert grid.get_params()["estimator__multilabel"] is True
    grid.set_params(estimator__lr=0.5)
    assert grid.estimator.lr == 0.5
    for estimator in (probe, LinearProbe(weight_decay=1e-4), KNNProbe(n_neighbors=3), grid):
        for copy in (sklearn_clone(estimator), clone(estimator)):
            assert type(copy) is type(estimator) and copy is not estimator
            assert repr(copy) == repr(estimator)
            assert copy.get_params(deep=False).keys() == estimator.get_params(deep=False).keys()
    assert sklearn_clone(grid).estimator is not grid.estimator
    assert repr(probe) == "MLPProbe(hidden_layers=2, dropout=0.3, lr=0.0032, seed=4)"


def test_probe_grid_is_train_grid_with_estimators():
    x, y, n = all_rows()
    configs = enumerate_grid({**LINEAR_PARAM_GRID, "max_epochs": [20], "batch_size": [32]})
    rows = dict(train_rows=np.arange(100), valid_rows=np.arange(100, n))
    grid = ProbeGrid(LinearProbe(shuffle_seed=9), configs, seeds=[1, 2, 3, 4])
    grid.fit(x, y, **rows)
    seeds = dict(seeds=[1, 2, 3, 4], shuffle_seed=9)
    direct = train_grid(
        configs,
        torch.tensor(x),
        torch.tensor(y),
        *rows.values(),
        monitor_loss,
        maximize=False,
        **seeds,
    )
    for probe, trained, config, seed in zip(grid.estimators_, direct, configs, [1, 2, 3, 4]):
        assert isinstance(probe, LinearProbe)
        assert (probe.lr, probe.weight_decay) == (config["lr"], config["weight_decay"])
        assert (probe.seed, probe.shuffle_seed) == (seed, 9)
        for key, tensor in trained.state.items():
            assert torch.equal(probe.state_[key], tensor)
    values = [t.value for t in direct]
    assert grid.best_index_ == int(np.argmin(values)) and grid.best_score_ == min(values)
    assert grid.best_params_ == configs[grid.best_index_]
    assert [r["validation_score"] for r in grid.results_] == values
    assert grid.ranking_ == sorted(range(4), key=values.__getitem__)
    assert np.array_equal(grid.predict_proba(x[n:]), grid.best_estimator_.predict_proba(x[n:]))


def test_knn_grid_equals_each_k_alone():
    x, y, n = all_rows()
    x = x + np.random.default_rng(0).normal(0, 0.5, x.shape).astype(np.float32)  # some errors
    rows = dict(train_rows=np.arange(150), valid_rows=np.arange(150, n))
    configs = [{"n_neighbors": k} for k in (1, 3, 9)]
    grid = ProbeGrid(KNNProbe(), configs).fit(x, y, **rows)
    for probe, config in zip(grid.estimators_, configs):
        alone = KNNProbe(**config).fit(x, y, **rows)
        assert probe.validation_score_ == alone.validation_score_  # the loss, minimised
        assert np.array_equal(probe.predict_proba(x[n:]), alone.predict_proba(x[n:]))
    assert len({p.validation_score_ for p in grid.estimators_}) == 3


def test_grid_rejects_configurations_the_probe_cannot_take():
    x, y, _ = all_rows()
    with pytest.raises(ValueError, match="LinearProbe fixes hidden_layers=0"):
        ProbeGrid(LinearProbe(), [{"hidden_layers": 1, "lr": 1e-2}]).fit(x, y)
    with pytest.raises(ValueError, match="KNNProbe has no 'lr'"):
        ProbeGrid(KNNProbe(), [{"lr": 1e-2}]).fit(x, y)
    with pytest.raises(ValueError, match="takes no seed"):
        ProbeGrid(KNNProbe(), [{"n_neighbors": 1}], seeds=[0]).fit(x, y)
    with pytest.raises(ValueError, match="hidden_norm='LayerNorm' is not implemented"):
        MLPProbe(hidden_norm="LayerNorm", max_epochs=1).fit(x, y)
    with pytest.raises(ValueError, match="maximize=True needs a validate"):
        LinearProbe(max_epochs=1).fit(x, y, maximize=True)
    with pytest.raises(ValueError, match="validate needs valid_rows"):
        KNNProbe().fit(x, y, validate=lambda probs, loss: (0.0, ()))


def test_take_rows_views_a_run_and_gathers_the_rest():
    a = torch.arange(20.0).reshape(10, 2)
    run = take_rows(a, np.arange(3, 7))
    assert run.data_ptr() == a[3].data_ptr() and torch.equal(run, a[3:7])
    assert torch.equal(take_rows(a, np.array([0, 2, 5])), a[[0, 2, 5]])


@pytest.mark.parametrize("probe", ["linear", "knn"])
def test_probes_through_protocol(tmp_path, probe):
    override = {"max_epochs": [30], "batch_size": [32], "patience": [5]}
    result = run_protocol(
        scene_task(tmp_path, override=override), grid="default", grid_points=4, seed=0, probe=probe
    )
    assert result["folds"]["test"]["test_score"] == 1.0
    if probe == "knn":
        assert len(result["grid"]) == 4 and "n_neighbors" in result["hparams"]
    else:
        assert result["hparams"]["hidden_layers"] == 0 and "weight_decay" in result["hparams"]
