"""`python -m heareval.validate`: a user's mistakes end as they do in the embeddings runner (same
message, same exit code), and --help states the sample-rate rule both commands apply."""

import subprocess
import sys

import pytest
import torch
from embedding_models.bundles import event_bundle

from hearcore.cli import FAILED, NOT_FOUND, USAGE, run_command
from heareval import api
from heareval.embeddings import runner
from heareval.validate import main

NAIVE = "heareval.models.naive"


@pytest.fixture
def tasks(tmp_path):
    event_bundle(tmp_path / "tasks", seconds=1.0, rates=(16000,), n_files=1)
    return tmp_path / "tasks"


def _both(capsys, tasks, *argv):
    """(exit code, stderr) of the validator and of the embeddings runner given the same args."""
    results = []
    for command, more in [(main, []), (runner.main, ["--tasks-dir", str(tasks)])]:
        code = run_command(command, [*argv, *more])
        captured = capsys.readouterr()
        assert captured.out == "", captured.out  # no report: the mistake stops the command
        results.append((code, captured.err))
    return results


def test_a_missing_module_same_message_and_code(capsys, tasks):
    validate, embed = _both(capsys, tasks, "my_model.hear")
    assert validate == embed and validate[0] == NOT_FOUND
    assert validate[1].splitlines() == [
        "error: cannot import HEAR module my_model.hear: No module named 'my_model'",
        "it must be importable by that name: add the folder holding my_model/ (or my_model.py) "
        "to PYTHONPATH, or pip install the package that provides 'my_model'",
    ]


def test_a_module_whose_import_raises(capsys, tasks, tmp_path, monkeypatch):
    (tmp_path / "crashing_hear.py").write_text("raise RuntimeError('no config file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    validate, embed = _both(capsys, tasks, "crashing_hear")
    assert validate == embed and validate[0] == FAILED
    assert validate[1].splitlines() == [
        "error: cannot import HEAR module crashing_hear: RuntimeError: no config file",
        "fix the module; python -c 'import crashing_hear' (or --verbose) shows the traceback",
    ]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_same_message_and_code(capsys, tasks):
    validate, embed = _both(capsys, tasks, NAIVE, "--device", "cuda")
    assert validate == embed and validate[0] == USAGE
    assert "error: --device cuda: CUDA is not available here" in validate[1]
    assert "use --device cpu, or install the CUDA build of torch" in validate[1]


def test_an_unknown_model_option_same_message_and_code(capsys, tasks):
    validate, embed = _both(capsys, tasks, NAIVE, "--model-options", '{"n_mel": 64}')
    assert validate == embed and validate[0] == USAGE
    assert validate[1].splitlines() == [
        f"error: model option 'n_mel' is not accepted by load_model of {NAIVE}",
        "did you mean 'n_mels'? it accepts: sample_rate, n_mels, embedding_size, seed",
    ]
    assert "HEAR API" not in validate[1]


def test_missing_weights_and_bad_options_same_message_and_code(capsys, tasks, tmp_path):
    missing = str(tmp_path / "w.pt")
    validate, embed = _both(capsys, tasks, NAIVE, "--model", missing)
    assert validate == embed and validate[0] == NOT_FOUND
    assert f"model weights file {missing} does not exist" in validate[1]
    validate, embed = _both(capsys, tasks, NAIVE, "--model-options", "16000")
    assert validate == embed and validate[0] == USAGE


def test_one_sample_rate_rule_for_both_commands(capsys, tasks):
    assert run_command(main, ["broken_models.rate_8000", "-d", "cpu"]) == FAILED
    problem = api.sample_rate_problem(api.load_model("broken_models.rate_8000", device="cpu")[1])
    assert f"ERROR: {problem}" in capsys.readouterr().out
    assert "not a HEAR rate" in problem and "without resampling" not in problem
    argv = ["broken_models.rate_8000", "--tasks-dir", str(tasks), "--device", "cpu"]
    assert run_command(runner.main, argv) == USAGE
    assert capsys.readouterr().err.splitlines()[0] == f"error: broken_models.rate_8000: {problem}"
    for command in (main, runner.main):
        with pytest.raises(SystemExit):
            command(["--help"])
        assert " ".join(api.SAMPLE_RATE_RULE.split()) in " ".join(capsys.readouterr().out.split())


def test_the_command_prints_no_traceback(tmp_path):
    cmd = [sys.executable, "-m", "heareval.validate", NAIVE, "--model-options", '{"hop": 1}']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == USAGE and "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.startswith("error: model option 'hop' is not accepted by load_model of")
    verbose = subprocess.run(cmd + ["--verbose"], capture_output=True, text=True, timeout=120)
    assert verbose.returncode == USAGE and "Traceback" in verbose.stderr


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m heareval.validate [-h] [-v]")
    for part in ["module dotted import name", "--model MODEL, -m MODEL", "--device DEVICE, -d",
                 "(default: cuda when available, else cpu)", "(default: {})", "--verbose",
                 "No option repeats", "exit codes: 0 done"]:  # fmt: skip
        assert part in text
