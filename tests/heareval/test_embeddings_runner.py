"""The embedding runner end to end on bundles written here (event tasks, ticker model)."""

import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from embedding_models.bundles import event_bundle

from hearcore.atomic import temporary_writer
from hearcore.cli import NOT_FOUND, USAGE, run_command
from heareval.embeddings import cache
from heareval.embeddings.labels import frame_labels
from heareval.embeddings.output import read_embeddings
from heareval.embeddings.runner import main, options_slug, run

TICKER = "embedding_models.ticker"


@pytest.fixture
def tasks(tmp_path):
    event_bundle(tmp_path / "tasks", rates=(16000,))
    (tmp_path / "tasks" / "notes").mkdir()  # not a bundle: skipped quietly
    (tmp_path / "tasks" / "x.tar.gz").write_bytes(b"")
    # A bundle hearpreprocess is still writing (renamed into place when complete): skipped.
    writing = ".tmp-1@host-0123abcd~toy_events-1.0-full"
    event_bundle(tmp_path / "tasks", name=writing, rates=(16000,))
    return tmp_path / "tasks"


def _run(tasks, emb, **kw):
    return run(TICKER, tasks, emb, progress=False, **kw)


def test_event_outputs_match_the_bundle(tasks, tmp_path):
    [result] = _run(tasks, tmp_path / "emb")
    out = Path(result["out_dir"])
    assert out == tmp_path / "emb" / TICKER / "toy_events-1.0-full"
    prng = random.Random(0)
    for split in ["train", "test"]:
        labels = json.loads((tasks / "toy_events-1.0-full" / f"{split}.json").read_text())
        order = list(labels)
        prng.shuffle(order)
        emb = read_embeddings(out, split)
        dims = json.loads((out / f"{split}.embedding-dimensions.json").read_text())
        stamps = json.loads((out / f"{split}.filename-timestamps.json").read_text())
        targets = pickle.loads((out / f"{split}.target-labels.pkl").read_bytes())
        frames = 3 * 16000 // 160 + 1
        assert dims == [len(order) * frames, 4] and emb.shape == tuple(dims)
        assert (out / f"{split}.embeddings.npy").stat().st_size == dims[0] * dims[1] * 4
        assert [s[0] for s in stamps[::frames]] == order  # shuffled file order, contiguous
        for i, name in enumerate(order):
            ts = [s[1] for s in stamps[i * frames : (i + 1) * frames]]
            assert ts == [10.0 * k for k in range(frames)]
            assert targets[i * frames : (i + 1) * frames] == frame_labels(labels[name], ts)
        assert ["beep", "buzz"] in targets and [] in targets
        assert (out / f"{split}.json").read_text() == json.dumps(labels, indent=1)
    profile = json.loads((out / "profile.embeddings.json").read_text())
    assert profile["clips"] == 6 and profile["audio_seconds"] == 18.0
    assert profile["resampled_from"] is None and profile["peak_rss_bytes"] > 0


def test_resampled_chunked_and_deterministic(tasks, tmp_path):
    opts = {"sample_rate": 22050, "hop_ms": 25.0}
    [a] = _run(tasks, tmp_path / "a", options=opts)
    [b] = _run(tasks, tmp_path / "b", options=opts, chunk_seconds=0.4, context_seconds=0.1)
    [c] = _run(tasks, tmp_path / "c", options=opts)
    assert Path(a["out_dir"]).parent.name == f"{TICKER}-sample-rate=22050-hop-ms=25-0"
    assert a["profile"]["resampled_from"] == 16000 and b["profile"]["chunked_clips"] == 6
    for split in ["train", "test"]:
        ea, eb = read_embeddings(a["out_dir"], split), read_embeddings(b["out_dir"], split)
        np.testing.assert_allclose(eb, ea, rtol=1e-5, atol=1e-6)
        for name in ["filename-timestamps.json", "target-labels.pkl"]:
            pa, pb = (Path(r["out_dir"]) / f"{split}.{name}" for r in (a, b))
            assert pa.read_bytes() == pb.read_bytes()
        ba = (Path(a["out_dir"]) / f"{split}.embeddings.npy").read_bytes()
        assert ba == (Path(c["out_dir"]) / f"{split}.embeddings.npy").read_bytes()


def test_cache_skips_and_recomputes(tasks, tmp_path):
    emb = tmp_path / "emb"
    weights = tmp_path / "w.txt"
    weights.write_text("1.0")
    [first] = _run(tasks, emb, weights=weights)
    out = Path(first["out_dir"])
    ref = np.array(read_embeddings(out, "train"))
    npy = out / "train.embeddings.npy"
    before = npy.stat().st_mtime_ns
    assert _run(tasks, emb, weights=weights)[0]["status"] == "skipped"
    assert npy.stat().st_mtime_ns == before
    weights.write_text("2.0")
    assert _run(tasks, emb, weights=weights)[0]["status"] == "done"
    np.testing.assert_allclose(read_embeddings(out, "train")[:, 1:], 2 * ref[:, 1:], rtol=1e-6)
    labels = tasks / "toy_events-1.0-full" / "test.json"
    labels.write_text(labels.read_text().replace('"beep"', '"bleep"'))
    (tasks / "toy_events-1.0-full" / "labelvocabulary.csv").write_text(
        "idx,label\n0,bleep\n1,buzz\n"
    )
    assert _run(tasks, emb, weights=weights)[0]["status"] == "done"
    assert "bleep" in str(pickle.loads((out / "test.target-labels.pkl").read_bytes()))
    [other] = _run(tasks, emb, weights=weights, options={"hop_ms": 20.0})
    assert other["status"] == "done" and other["out_dir"] != first["out_dir"]
    assert sorted(p.name for p in emb.iterdir()) == [TICKER, f"{TICKER}-hop-ms=20-0"]


def test_interrupted_runs_leave_nothing_done(tasks, tmp_path):
    emb = tmp_path / "emb"
    with pytest.raises(RuntimeError, match="simulated failure"):
        _run(tasks, emb, options={"fail_after": 3}, batch_size=1)
    model_dir = emb / f"{TICKER}-fail-after=3"
    assert list(model_dir.iterdir()) == []
    code = (
        "from heareval.embeddings.runner import run;"
        f"run({TICKER!r}, {str(tasks)!r}, {str(emb)!r}, options={{'exit_after': 5}}, batch_size=1,"
        " progress=False)"
    )
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert proc.returncode == 3
    killed_dir = emb / f"{TICKER}-exit-after=5"
    [partial] = list(killed_dir.iterdir())
    assert temporary_writer(partial)[2] == "toy_events-1.0-full"
    out = killed_dir / "toy_events-1.0-full"
    key = {"model": "whatever"}
    assert not cache.is_done(out, key) and not out.exists()
    [rerun] = _run(tasks, emb, options={"exit_after": 5}, batch_size=8)  # warm-up, probe, 2 batches
    assert rerun["status"] == "done"
    assert [p.name for p in killed_dir.iterdir()] == ["toy_events-1.0-full"]


def test_cli_rejects_bad_input(tasks, tmp_path, capsys):
    def cli(*argv):
        return run_command(main, [TICKER, "--tasks-dir", str(tasks), *argv])

    assert cli("--task", "notes") == NOT_FOUND
    err = capsys.readouterr().err
    assert f"--task notes: {tasks / 'notes'} is not a task bundle (no task_metadata.json)" in err
    assert "the bundles in" in err and "toy_events-1.0-full" in err and ".tmp-" not in err
    assert cli("--model-options", "[1]") == USAGE
    assert "--model-options must be a JSON object, not [1]" in capsys.readouterr().err
    assert cli("--model-options", "{hop: 1}") == USAGE
    assert "--model-options is not valid JSON" in capsys.readouterr().err
    assert cli("--model", str(tmp_path / "none.pt")) == NOT_FOUND
    assert f"model weights file {tmp_path / 'none.pt'} does not exist" in capsys.readouterr().err
    assert options_slug({"sample_rate": 16000, "x": 0.5}) == "-sample-rate=16000-x=0-5"


def test_only_bundles_being_written(tmp_path, capsys):
    writing = ".tmp-1@host-0123abcd~toy_events-1.0-full"
    event_bundle(tmp_path / "tasks", name=writing, seconds=1.0, rates=(16000,), n_files=1)
    assert run_command(main, [TICKER, "--tasks-dir", str(tmp_path / "tasks")]) == NOT_FOUND
    assert "only hidden bundles, which are still being written" in capsys.readouterr().err
