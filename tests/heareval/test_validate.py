"""Validator: passes the built-in models, catches each broken toy module with the right message."""

import pytest

from hearcore.cli import USAGE, run_command
from heareval.models import crepe_net
from heareval.validate import main, validate_module


def _validate(name):
    return validate_module(f"broken_models.{name}", device="cpu")


@pytest.mark.parametrize("sample_rate", [16000, 22050, 48000])
def test_naive_passes(sample_rate):
    report = validate_module("heareval.models.naive", options={"sample_rate": sample_rate})
    assert report.errors == [] and report.warnings == []


def test_crepe_passes():
    try:
        crepe_net.weights_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    report = validate_module("heareval.models.crepe", device="cpu")
    assert report.errors == [] and report.warnings == []


def test_toy_model_passes():
    assert _validate("good").errors == []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("float64", ["timestamp embeddings have dtype torch.float64",
                     "scene embeddings have dtype torch.float64"]),
        ("size_mismatch", ["last dimension 8 but model.timestamp_embedding_size is 16",
                           "last dimension 8 but model.scene_embedding_size is 16"]),
        ("no_time_dim", ["timestamp embeddings have 2 dimensions (2, 8); expected 3"]),
        ("irregular", ["timestamps are not evenly spaced (steps from 20 to 30 ms"]),
        ("seconds", ["timestamps look like seconds (mean step 0.025, and none beyond"]),
        ("rate_8000", ["model.sample_rate is 8000, not a HEAR rate"]),
        ("no_scene_size", ["the model has no scene_embedding_size attribute"]),
        ("not_module", ["returned a types.SimpleNamespace, but a HEAR model must be a torch.nn"]),
    ],
)  # fmt: skip
def test_broken_module_caught(name, expected):
    report = _validate(name)
    assert len(report.errors) == len(expected), report.errors
    for error, text in zip(report.errors, expected):
        assert text in error


def test_all_problems_reported_in_one_run():
    errors = _validate("many_problems").errors
    expected = [
        "sample_rate is 8000",
        "no timestamp_embedding_size attribute",
        "timestamp embeddings have dtype torch.float64",
        "timestamps look like seconds",
        "scene embeddings have last dimension 4 but model.scene_embedding_size is 8",
    ]
    assert len(errors) == len(expected), errors
    for error, text in zip(errors, expected):
        assert text in error


def test_missing_module_is_one_clear_error():
    errors = validate_module("broken_models.does_not_exist").errors
    assert errors == [errors[0]] and "cannot import HEAR module broken_models.does_not_exist" in (
        errors[0]
    )


def test_cli_exit_status_and_messages(capsys):
    assert main(["broken_models.good", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.strip().endswith("Looks good!")
    assert main(["broken_models.seconds", "-d", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "ERROR: timestamps look like seconds" in out and "Looks good!" not in out


def test_cli_model_options(capsys):
    assert main(["heareval.models.naive", "--model-options", '{"sample_rate": 8000}']) == 1
    assert "not a HEAR rate" in capsys.readouterr().out
    assert run_command(main, ["heareval.models.naive", "--model-options", "[1]"]) == USAGE
    assert "--model-options must be a JSON object, not [1]" in capsys.readouterr().err
