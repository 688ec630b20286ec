"""Loading HEAR modules: import errors, device choice, load_model, cache identities."""

import hashlib
import shutil
import types

import pytest
import torch

from hearcore.cli import NOT_FOUND, USAGE
from heareval import api
from heareval.embeddings import cache
from heareval.models import naive


def test_import_module_error_names_module_and_fix():
    with pytest.raises(ImportError, match="cannot import HEAR module no_such_hear_mod: ") as e:
        api.import_module("no_such_hear_mod")
    assert e.value.code == NOT_FOUND
    assert "add the folder holding no_such_hear_mod/ (or no_such_hear_mod.py) to PYTHONPATH" in (
        str(e.value)
    )
    with pytest.raises(ImportError, match="dotted import name .e.g. naive., not a file path"):
        api.import_module("models/naive.py")


def test_pick_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert api.pick_device(None).type == expected
    assert api.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'not-a-device' is not a device; use cpu, cuda") as e:
        api.pick_device("not-a-device")
    assert e.value.code == USAGE
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available here") as e:
            api.pick_device("cuda")
        assert e.value.code == USAGE


def test_options_are_checked_against_load_model():
    api.check_options(naive, {"sample_rate": 16000, "seed": 1})
    with pytest.raises(TypeError, match="model options 'sample_rat', 'x' are not") as e:
        api.check_options(naive, {"sample_rat": 16000, "x": 1})
    assert e.value.code == USAGE and "did you mean 'sample_rate'?" in str(e.value)
    with pytest.raises(TypeError, match="pass the weights file with --model"):
        api.check_options(naive, {"model_file_path": "w.pt"})
    anything = types.ModuleType("anything")
    anything.load_model = lambda path="", **kwargs: kwargs  # type: ignore[attr-defined]
    api.check_options(anything, {"whatever": 1})


def test_sample_rate_rule():
    assert api.sample_rate_problem(types.SimpleNamespace(sample_rate=44100)) is None
    assert "not a HEAR rate" in api.sample_rate_problem(types.SimpleNamespace(sample_rate=8000))
    assert "no sample_rate" in api.sample_rate_problem(types.SimpleNamespace())
    with pytest.raises(ValueError, match="m: model.sample_rate is '16k'") as e:
        api.check_sample_rate(types.SimpleNamespace(sample_rate="16k"), "m")
    assert e.value.code == USAGE
    assert api.check_sample_rate(types.SimpleNamespace(sample_rate=16000.0), "m") == 16000


def test_load_model_passes_options_and_sets_eval(tmp_path):
    module, model = api.load_model("heareval.models.naive", options={"sample_rate": 22050})
    assert module is naive and model.sample_rate == 22050 and not model.training
    assert model.projection.device.type == api.pick_device(None).type


def test_load_model_with_weights(tmp_path):
    path = tmp_path / "projection.pt"
    projection = torch.ones(128, 512)
    torch.save({"projection": projection}, path)
    _, model = api.load_model("heareval.models.naive", weights=path, device="cpu")
    assert torch.equal(model.projection, projection)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        api.load_model("heareval.models.naive", weights=tmp_path / "missing.pt")


def test_load_model_rejects_non_module():
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        api.load_model("broken_models.not_module", device="cpu")


def test_weights_digest_and_model_identity(tmp_path):
    assert api.weights_digest(None) is None and api.weights_digest("") is None
    first = tmp_path / "a.pt"
    first.write_bytes(b"weights v1")
    assert api.weights_digest(first) == hashlib.sha256(b"weights v1").hexdigest()
    moved = tmp_path / "moved.pt"
    shutil.copy(first, moved)
    module = types.ModuleType("m")  # no source file

    def identity(options, weights):
        return cache.model_identity(module, options, api.weights_digest(weights))

    first_identity = identity({"b": 1, "a": 2}, first)
    assert first_identity == identity({"a": 2, "b": 1}, moved)
    assert first_identity["weights_sha256"] == api.weights_digest(first)
    moved.write_bytes(b"weights v2")
    assert identity({"a": 2, "b": 1}, moved) != first_identity
    assert identity({}, None) == {
        "module": "m",
        "options": {},
        "weights_sha256": None,
        "source_sha256": None,
    }
    with pytest.raises(FileNotFoundError):
        api.weights_digest(tmp_path / "missing.pt")
