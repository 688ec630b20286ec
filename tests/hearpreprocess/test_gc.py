"""gc: superseded work-dir folders go, current, young, live and unknown ones stay."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearcore.cli import LOCKED, NOT_FOUND, USAGE, run_command
from hearcore.lock import hold_lock
from hearpreprocess import gc
from hearpreprocess.config import load_task_config
from hearpreprocess.pipeline import AudioShard, SplitMetadata
from hearpreprocess.pipeline.base import SPLIT_FIELDS, config_view

REPO = Path(__file__).resolve().parents[2]
RATE = 16000
OLD_DURATION = 0.5  # tones' recipe says 1.0


def _build(out: Path, overrides: Path | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode=small"]
    argv += [f"--work-dir={out / 'work'}", f"--tasks-dir={out / 'tasks'}", "--no-tarballs"]
    argv += [f"--sample-rate={RATE}", "--workers=1"]
    argv += [f"--config-overrides={overrides}"] if overrides else []
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _ran(result: subprocess.CompletedProcess) -> dict[str, int]:
    """{step: count} from the runner's `ran:` line."""
    line = next(x for x in result.stdout.splitlines() if x.startswith("ran: "))
    return {step: int(n) for n, step in re.findall(r"(\d+) (\w+)", line)}


def _snapshot(folder: Path) -> dict[str, int | None]:
    """Every path under `folder`, with its file's mtime (a folder's changes as entries go)."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.lstat().st_mtime_ns
        for p in folder.rglob("*")
    }


def _gc(capsys, *argv: str) -> tuple[int, str]:
    code = run_command(gc.main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _listed(output: str, verb: str) -> set[str]:
    """The paths of the `would remove` / `removed` lines."""
    pattern = rf"^{verb} +\S+ \S+  (\S+)  \("
    return {m[1] for m in re.finditer(pattern, output, re.MULTILINE)}


def _kept(output: str) -> dict[str, str]:
    """{path: why} of the `kept` lines."""
    return dict(re.findall(r"^kept (\S+): (.*)$", output, re.MULTILINE))


def _folders(work: Path, overrides: dict) -> set[str]:
    """The split and audio folders (relative to `work`) that the tones small config with
    `overrides` is built into, asked of the steps."""
    view = config_view(load_task_config("tones", "small", overrides), SPLIT_FIELDS)
    splits = Path(SplitMetadata(config=view, work_dir=str(work)).output().path)
    shard = AudioShard(config=view, sample_rates=[RATE], split="s", shard=0, work_dir=str(work))
    audio = Path(shard.output().path).parents[1]
    return {str(splits.relative_to(work)), str(audio.relative_to(work))}


@pytest.mark.slow
def test_gc_removes_exactly_the_superseded_folders(tmp_path, capsys):
    out = tmp_path / "out"
    work = out / "work"
    old = tmp_path / "old.toml"
    old.write_text(f"[tones]\nsample_duration = {OLD_DURATION}\n")
    _build(out, old)
    _build(out)  # the recipe as it is: the old config's split and audio folders are superseded
    superseded = _folders(work.resolve(), {"sample_duration": OLD_DURATION})
    current = _folders(work.resolve(), {})
    assert all((work / p).is_dir() for p in superseded | current)
    assert not superseded & current

    before = _snapshot(work)
    code, output = _gc(capsys, f"--work-dir={work}", "--min-age=0")
    assert code == 0, output
    assert _listed(output, "would remove") == superseded, output
    assert "--delete" in output and _snapshot(work) == before

    code, output = _gc(capsys, f"--work-dir={work}", "--min-age=0", f"--config-overrides={old}")
    assert code == 0 and _listed(output, "would remove") == set(), output

    code, output = _gc(capsys, f"--work-dir={work}", "--min-age=0", "--delete")
    assert code == 0 and _listed(output, "removed") == superseded, output
    gone = {p for p in before if any(p == s or p.startswith(s + "/") for s in superseded)}
    assert _snapshot(work) == {p: t for p, t in before.items() if p not in gone}
    assert not (work / ".lock").exists()

    assert "ran: nothing (all up to date)" in _build(out).stdout
    rebuilt = _ran(_build(out, old))
    assert set(rebuilt) == {"SplitMetadata", "AudioShard", "TaskBundle", "AllTasks"}, rebuilt
    assert rebuilt["SplitMetadata"] == 1


def _age(path: Path, seconds: float = 7200) -> Path:
    """Make `path` and everything under it look `seconds` old."""
    then = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (then, then))
    return path


def _make(path: Path, folder: bool = True) -> Path:
    if folder:
        (path / "inner").mkdir(parents=True)
        (path / "inner" / "data.bin").write_bytes(b"x" * 1000)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temporary_name(pid: int, host: str, name: str) -> str:
    return f".tmp-{pid}@{host}-0123abcd~{name}"


def _lay_out(work: Path, elsewhere: Path, live_pid: int) -> tuple[dict[str, Path], dict]:
    """A work dir of garbage and of things gc must keep: ({shown path: path} of the garbage,
    {path kept: words of why})."""
    host = socket.gethostname()
    dead_tmp = "corpus/" + _temporary_name(_dead_pid(), host, "x")
    builtin_zip = "builtin/builtin.hearbench/tones/tones-v0.zip"
    garbage = {
        "splits/tones-0123456789ab": _make(work / "splits/tones-0123456789ab"),
        "downloads/" + "a" * 32: _make(work / "downloads" / ("a" * 32)),
        "tasks/tones-v0-small": _make(work / "tasks/tones-v0-small"),
        "failures-abc123.jsonl": _make(work / "failures-abc123.jsonl", False),
        builtin_zip: _make(work / builtin_zip, False),
        dead_tmp: _make(work / dead_tmp),
    }
    ours = _make(work / "tasks/tones-v1-small")
    (ours / "manifest.json").write_text('{"build": {"identity": "abc"}}')
    holds_live = _make(work / "audio/tones-fedcba987654/fold00")
    _make(holds_live / _temporary_name(live_pid, host, "shard-0000"))
    kept = {
        holds_live.parent: "holds fold00/.tmp-",
        work / _temporary_name(live_pid, host, "x"): "still runs",
        ours: "a bundle of this version",
        work / "sources" / _temporary_name(1, "other.example", "x"): "run gc there",
        work / "notes.txt": "unknown, kept",
        work / "splits/README": "unknown, kept",
        work / "kept": "a link to another folder",
    }
    _make(work / _temporary_name(live_pid, host, "x"))
    _make(work / "sources" / _temporary_name(1, "other.example", "x"))
    _make(work / "notes.txt", False)
    _make(work / "splits/README", False)
    _make(elsewhere / "tones-0123456789ab")
    (work / "kept").symlink_to(elsewhere)
    _age(work)
    _age(elsewhere)
    kept[_make(work / "splits/tones-ba9876543210")] = "under --min-age"  # young: made last
    return garbage, kept


def test_young_live_other_host_and_unknown_entries_are_kept(tmp_path, capsys):
    work = tmp_path / "work"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            garbage, kept = _lay_out(work, tmp_path / "shared", live.pid)
            code, output = _gc(capsys, f"--work-dir={work}")
            assert code == 0, output
            assert _listed(output, "would remove") == set(garbage), output
            for path, why in kept.items():
                assert why in _kept(output).get(str(path.relative_to(work)), ""), (path, output)
            code, output = _gc(capsys, f"--work-dir={work}", "--delete")
            assert code == 0 and _listed(output, "removed") == set(garbage), output
        finally:
            live.kill()
    assert not any(p.exists() for p in garbage.values())
    assert all(p.exists() for p in kept) and (tmp_path / "shared/tones-0123456789ab").is_dir()
    assert (work / "audio/tones-fedcba987654/fold00").is_dir()
    leftovers = [p.name for p in work.rglob(".tmp-*") if f".tmp-{os.getpid()}@" in p.name]
    assert leftovers == []  # every folder renamed for removal is gone


def test_gc_refuses_a_locked_work_dir(tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    with hold_lock(work, "python -m hearpreprocess.runner tones"):
        code, output = _gc(capsys, f"--work-dir={work}")
    assert code == LOCKED and "hearpreprocess.runner tones" in output


def test_bad_arguments_name_what_to_fix(tmp_path, capsys):
    code, output = _gc(capsys, f"--work-dir={tmp_path / 'absent'}")
    assert code == NOT_FOUND and "--work-dir" in output
    code, output = _gc(capsys, f"--work-dir={tmp_path}", "--min-age=soon")
    assert code == USAGE and "--min-age" in output
    assert gc.parse_age("90") == 90 and gc.parse_age("30m") == 1800 and gc.parse_age("2d") == 172800
