"""Loading HEAR modules: import errors, device choice, load_model, cache identities."""

import hashlib
import shutil
import types

import pytest
import torch

from heareval import api
from heareval.embeddings import cache
from heareval.models import naive


def test_import_module_error_names_module_and_fix():
    with pytest.raises(
        ImportError, match="cannot import HEAR module no_such_hear_mod: .*installed"
    ):
        api.import_module("no_such_hear_mod")


def test_pick_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert api.pick_device(None).type == expected
    assert api.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        api.pick_device("not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            api.pick_device("cuda")


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
