"""`python -m heareval.embeddings.runner`: the messages and exit codes of a new user's mistakes.

Each test runs the command (`run_command(main, argv)` as `__main__` does, or a subprocess where
the absence of a traceback is the point) and checks its exit code, its message, and that nothing
was written when it refused.
"""

import subprocess
import sys

import pytest
import torch
from embedding_models.bundles import event_bundle

from hearcore.cli import NOT_FOUND, OK, USAGE, run_command
from heareval import api
from heareval.embeddings.runner import main

TICKER = "embedding_models.ticker"
SPOKEN = "spoken_digit-1.0.9-small"


@pytest.fixture
def extract_root(tmp_path):
    """What extracting a HEAR 2021 tarball leaves: ROOT/hear-2021.0.6/tasks/<bundle>/<rate>/."""
    tasks = tmp_path / "root" / "hear-2021.0.6" / "tasks"
    event_bundle(tasks, name=SPOKEN, seconds=1.0, rates=(44100,), n_files=1)
    event_bundle(tasks, name="toy_events-1.0-full", seconds=1.0, rates=(16000,), n_files=1)
    return tmp_path / "root"


def _cli(capsys, *argv):
    code = run_command(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _embed(capsys, tmp_path, tasks_dir, *more):
    emb = tmp_path / "emb"
    code, out, err = _cli(
        capsys, TICKER, "--tasks-dir", str(tasks_dir), "--embeddings-dir", str(emb), *more
    )
    return code, out, err, emb


@pytest.mark.parametrize("level", ["root", "root/hear-2021.0.6"])
def test_a_folder_above_the_bundles_points_to_them(capsys, tmp_path, extract_root, level):
    code, out, err, emb = _embed(capsys, tmp_path, tmp_path / level, "--task", "all")
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    assert code == NOT_FOUND and out == ""
    assert f"no task bundle (a folder holding task_metadata.json) in {tmp_path / level}" in err
    assert f"did you mean --tasks-dir {tasks}? it holds {SPOKEN}, toy_events-1.0-full" in err
    assert len(err.strip().splitlines()) == 2 and not emb.exists()


def test_a_bundle_itself_says_pass_its_parent(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err, emb = _embed(capsys, tmp_path, tasks / SPOKEN)
    assert code == NOT_FOUND and not emb.exists()
    assert "it is a task bundle itself" in err
    assert f"pass its parent: --tasks-dir {tasks} (add --task {SPOKEN}" in err


def test_a_rate_folder_says_which_bundle_it_is_in(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err, emb = _embed(capsys, tmp_path, tasks / SPOKEN / "44100")
    assert code == NOT_FOUND and not emb.exists()
    assert f"it is inside the task bundle {tasks / SPOKEN}\npass --tasks-dir {tasks}\n" in err


def test_a_work_dir_or_missing_folder_says_where_bundles_are(capsys, tmp_path):
    work = tmp_path / "_workdir"
    (work / "download" / "spoken_digit-1234").mkdir(parents=True)
    code, _, err, emb = _embed(capsys, tmp_path, work)
    assert code == NOT_FOUND and not emb.exists()
    assert f"no task bundle (a folder holding task_metadata.json) in {work}\n" in err
    assert "hearpreprocess.runner's --tasks-dir (not its --work-dir)" in err
    code, _, err, _ = _embed(capsys, tmp_path, tmp_path / "nowhere")
    assert code == NOT_FOUND and f"--tasks-dir {tmp_path / 'nowhere'} does not exist" in err


def test_a_task_name_instead_of_a_bundle_name(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err, emb = _embed(capsys, tmp_path, tasks, "--task", "spoken_digit")
    assert code == NOT_FOUND and not emb.exists()
    assert f"--task spoken_digit: {tasks / 'spoken_digit'} does not exist" in err
    assert f"did you mean --task {SPOKEN}? (or --task all)" in err
    code, _, err, _ = _embed(capsys, tmp_path, tasks, "--task", "esc50")
    assert code == NOT_FOUND
    assert f"the bundles in {tasks} are {SPOKEN}, toy_events-1.0-full; pass one" in err


def test_a_missing_module_is_named_without_a_traceback(tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    cmd = [sys.executable, "-m", "heareval.embeddings.runner", "my_model.hear", "--tasks-dir"]
    cmd += [str(tasks), "--embeddings-dir", str(tmp_path / "emb")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == NOT_FOUND and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: cannot import HEAR module my_model.hear: No module named 'my_model'",
        "it must be importable by that name: add the folder holding my_model/ (or my_model.py) "
        "to PYTHONPATH, or pip install the package that provides 'my_model'",
    ]
    assert not (tmp_path / "emb").exists()


def test_a_misspelled_module_in_a_package_suggests_the_right_one(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err = _cli(capsys, "heareval.models.naiv", "--tasks-dir", str(tasks))
    assert code == NOT_FOUND
    assert (
        "package heareval.models has no module 'naiv'; did you mean heareval.models.naive?" in err
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_usage_error(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err, emb = _embed(capsys, tmp_path, tasks, "--device", "cuda")
    assert code == USAGE and not emb.exists()
    assert err.startswith("error: --device cuda: CUDA is not available here (torch ")
    assert "use --device cpu, or install the CUDA build of torch" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2


def test_an_unknown_model_option_is_named(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err, emb = _embed(capsys, tmp_path, tasks, "--model-options", '{"hop": 20}')
    assert code == USAGE and not emb.exists()
    assert err.splitlines() == [
        f"error: model option 'hop' is not accepted by load_model of {TICKER}",
        "did you mean 'hop_ms'? it accepts: sample_rate, hop_ms, window_ms, fail_after, "
        "exit_after",
    ]
    assert "HEAR API" not in err


def test_a_model_rate_that_is_not_a_hear_rate_is_refused(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, _, err, emb = _embed(capsys, tmp_path, tasks, "--model-options", '{"sample_rate": 8000}')
    assert code == USAGE and not emb.exists()
    assert "model.sample_rate is 8000, not a HEAR rate; set it to one of 16000, 22050" in err
    code, _, err = _cli(capsys, "broken_models.rate_8000", "--tasks-dir", str(tasks))
    assert code == USAGE and "model.sample_rate is 8000, not a HEAR rate" in err


def test_resampling_is_said_and_the_outputs_are_listed(capsys, tmp_path, extract_root):
    tasks = extract_root / "hear-2021.0.6" / "tasks"
    code, out, err, emb = _embed(capsys, tmp_path, tasks, "--device", "cpu")
    assert code == OK
    assert (
        f"{SPOKEN}: resampling 44100 Hz -> 16000 Hz on the fly (the bundle has no 16000 Hz " in err
    )
    assert "toy_events-1.0-full: resampling" not in err  # it has a 16000 Hz folder
    assert f"{SPOKEN} train: 100%" in err  # the tqdm bar of each split
    model_dir = emb / TICKER
    assert out.splitlines() == [
        f"embedded 2 task(s); outputs in {model_dir}:",
        f"  {SPOKEN}",
        "  toy_events-1.0-full",
    ]
    code, out, err, _ = _embed(capsys, tmp_path, tasks, "--device", "cpu")
    assert code == OK and "Hz on the fly" not in err
    assert out.splitlines() == [f"up to date: all 2 task(s) already embedded in {model_dir}"]
    assert f"{SPOKEN}: already done, up to date ({model_dir / SPOKEN})" in err


def test_help_describes_every_option_and_the_rate_rule(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m heareval.embeddings.runner [-h] [-v]")
    for option in ["--model MODEL", "--model-options", "--tasks-dir", "--task TASK", "--device",
                   "--embeddings-dir", "--memory-budget-mb", "--batch-size", "--chunk-seconds",
                   "--context-seconds", "--verbose"]:  # fmt: skip
        assert option in text
    for default in ["(default: tasks)", "(default: all)", "(default: embeddings)",
                    "(default: 512)", "(default: 1.0)", "(default: {})",
                    "(default: cuda when available, else cpu)"]:  # fmt: skip
        assert default in text
    assert " ".join(api.SAMPLE_RATE_RULE.split()) in text and "No option repeats" in text
    assert "exit codes: 0 done" in text
