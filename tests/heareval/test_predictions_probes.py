"""Linear and kNN probes, alone and through the protocol."""

import numpy as np
import pytest
from test_predictions_protocol import scene_task  # noqa: E402  (tests/heareval is on sys.path)

from heareval.predictions.data import make_clusters
from heareval.predictions.probes import KNNProbe, LinearProbe, neighbour_scores
from heareval.predictions.protocol import run_protocol


def split_data():
    x, c = make_clusters(300, 10, 3, 0.3, seed=2)
    y = np.eye(3, dtype=np.float32)[c]
    return x[:200], y[:200], x[200:], y[200:]


def test_knn_probe_frequencies_and_accuracy():
    x_train, y_train, x_test, y_test = split_data()
    probe = KNNProbe(n_neighbors=5).fit(x_train, y_train)
    assert probe.X_.shape == (200, 10)
    probs = probe.predict_proba(x_test)
    assert np.allclose(probs.sum(1), 1.0)
    assert set(np.unique(probs * 5)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert (probs.argmax(1) == y_test.argmax(1)).mean() == 1.0
    one = neighbour_scores(x_train, y_train, x_train[:3] * 7.0, [1])[1]
    assert np.array_equal(one, y_train[:3])  # cosine: scale does not matter, itself is nearest


def test_linear_probe_fits():
    x_train, y_train, x_test, y_test = split_data()
    probe = LinearProbe(lr=1e-2, max_epochs=30, batch_size=32, patience=5)
    assert probe.fit(x_train, y_train, x_test, y_test) is probe
    assert probe.coef_.shape == (3, 10) and probe.intercept_.shape == (3,)
    assert (probe.predict_proba(x_test).argmax(1) == y_test.argmax(1)).mean() == 1.0


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
