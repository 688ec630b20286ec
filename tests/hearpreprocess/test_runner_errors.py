"""The runner's user errors, through the real command: each ends in a message naming what was
wrong and what to do, with its exit code, and writes nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearcore.cli import FAILED, NOT_FOUND, UNREACHABLE, USAGE
from hearpreprocess.mirror import MirrorServer

REPO = Path(__file__).resolve().parents[2]
BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://corpora.test/tones/tones-v1.zip"


def run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m hearpreprocess.runner ARGS` writing its folders under tmp_path/out."""
    out = tmp_path / "out"
    folders = [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    argv = [sys.executable, "-m", "hearpreprocess.runner", *args, *folders]
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=timeout)


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def overrides(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.toml"
    path.write_text(text)
    return path


def mirrored_tones(tmp_path: Path, md5: str = "0" * 32) -> Path:
    """Overrides fetching tones from URL, a host only a mirror serves (not the built-in one)."""
    return overrides(tmp_path, f'[tones.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n')


def assert_usage_error(done: subprocess.CompletedProcess, tmp_path: Path, code: int = USAGE):
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2, done.stderr
    assert not (tmp_path / "out").exists(), "a rejected run wrote its folders"


def test_override_file_with_a_misspelt_key(tmp_path):
    path = overrides(tmp_path, "[tones]\nsample_duraton = 3.0\n")
    done = run(tmp_path, "tones", "--mode=small", f"--config-overrides={path}")
    assert_usage_error(done, tmp_path)
    assert str(path) in done.stderr and "[tones]" in done.stderr
    assert "'sample_duraton'" in done.stderr and "did you mean 'sample_duration'" in done.stderr


def test_override_file_with_a_table_for_an_unknown_task(tmp_path):
    path = overrides(tmp_path, "[esc-50]\nsample_duration = 3.0\n")
    done = run(tmp_path, "tones", "--mode=small", f"--config-overrides={path}")
    assert_usage_error(done, tmp_path)
    assert (
        str(path) in done.stderr and "[esc-50] names no task; did you mean [esc50]" in done.stderr
    )


def test_override_value_of_the_wrong_type(tmp_path):
    path = overrides(tmp_path, '[tones]\nsample_duration = "3s"\n')
    done = run(tmp_path, "tones", "--mode=small", f"--config-overrides={path}")
    assert_usage_error(done, tmp_path)
    assert str(path) in done.stderr and "[tones]" in done.stderr
    assert 'sample_duration = "3s" is a string, expected a number' in done.stderr
    assert "could not convert" not in done.stderr


def test_override_file_that_does_not_exist(tmp_path):
    done = run(tmp_path, "tones", f"--config-overrides={tmp_path / 'none.toml'}")
    assert_usage_error(done, tmp_path, NOT_FOUND)
    assert "none.toml does not exist" in done.stderr and "--config-overrides" in done.stderr


def test_task_name_with_a_typo_lists_the_tasks_and_the_nearest(tmp_path):
    done = run(tmp_path, "tonez", "--mode=small")
    assert_usage_error(done, tmp_path)
    assert "no task 'tonez'; did you mean 'tones'?" in done.stderr
    assert "esc50" in done.stderr and "speech_commands" in done.stderr


def test_unknown_mode_lists_the_modes_of_the_task(tmp_path):
    done = run(tmp_path, "tones", "--mode=smal")
    assert_usage_error(done, tmp_path)
    assert "no mode 'smal'; did you mean 'small'? its modes: full, small" in done.stderr
    done = run(tmp_path, "all", "--mode=smal")
    assert_usage_error(done, tmp_path)
    assert "no task has mode(s) smal; did you mean 'small'?" in done.stderr


def test_scheduler_that_is_down_fails_within_seconds(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    done = run(tmp_path, "tones", "--mode=small", f"--scheduler-url={url}", timeout=60)
    assert time.monotonic() - start < 20
    assert_usage_error(done, tmp_path, UNREACHABLE)
    assert f"luigid at {url} does not answer" in done.stderr
    assert "start it" in done.stderr and "--scheduler-url" in done.stderr


def test_scheduler_url_that_is_not_a_url(tmp_path):
    done = run(tmp_path, "tones", "--mode=small", "--scheduler-url=localhost:8082")
    assert_usage_error(done, tmp_path)
    assert "--scheduler-url 'localhost:8082' is not an http(s) URL" in done.stderr


def test_mirror_that_is_down_fails_within_seconds(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    path = mirrored_tones(tmp_path)
    start = time.monotonic()
    done = run(tmp_path, "tones", "--mode=small", f"--mirror={url}", f"--config-overrides={path}")
    assert time.monotonic() - start < 20
    assert_usage_error(done, tmp_path, UNREACHABLE)
    assert f"the mirror at {url} does not answer" in done.stderr and "--mirror" in done.stderr
    assert "pass --mirror" not in done.stderr


@pytest.mark.parametrize("verbose", [False, True])
def test_failed_step_shows_luigi_tracebacks_only_with_verbose(tmp_path, verbose):
    """A mirror that answers 404: the NOT BUILT / NOT DONE lines, Luigi's log only on demand."""
    (tmp_path / "mirror").mkdir()
    path = mirrored_tones(tmp_path)
    with MirrorServer(tmp_path / "mirror") as server:
        args = ["tones", "--mode=small", f"--mirror={server.url}", f"--config-overrides={path}"]
        done = run(tmp_path, *args, *(["--verbose"] if verbose else []))
    assert done.returncode == FAILED, done.stdout + done.stderr
    assert "NOT BUILT: tones-v1-small: DownloadedFile failed" in done.stdout
    assert "404" in done.stdout and "NOT DONE" in done.stdout
    assert ("Traceback" in done.stdout + done.stderr) == verbose, done.stderr
    assert ("Luigi Execution Summary" in done.stderr) == verbose


def test_help_describes_every_option():
    done = subprocess.run(
        [sys.executable, "-m", "hearpreprocess.runner", "--help"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert text.startswith("usage: python -m hearpreprocess.runner")
    for option in ("--mode", "--sample-rate", "--tasks-dir", "--tar-dir", "--work-dir", "--mirror",
                   "--workers", "--scheduler-url", "--resampler", "--config-overrides",
                   "--no-tarballs", "--include-extra", "--verbose"):  # fmt: skip
        assert option in text, option
    assert "(default: tasks)" in text and "(default: _workdir)" in text
    assert "(default: tarballs)" in text and "(default: soxr)" in text
    assert text.count("repeat for several") == 2  # --mode and --sample-rate
    assert "'list' to print" in text and "esc50" in text and "tones" in text
    assert "exit codes: 0 done" in text


def test_catalogue_check_of_a_missing_or_unmarked_file(tmp_path, capsys):
    from hearcore.cli import run_command
    from hearpreprocess import catalogue

    missing = tmp_path / "README.md"
    assert run_command(catalogue.main, ["--check", str(missing)]) == NOT_FOUND
    assert f"cannot read {missing}" in capsys.readouterr().err
    missing.write_text("no markers here\n")
    assert run_command(catalogue.main, ["--write", str(missing)]) == NOT_FOUND
    assert "no catalogue markers" in capsys.readouterr().err
    assert missing.read_text() == "no markers here\n"
