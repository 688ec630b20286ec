"""Tasks whose clips keep their own length (sample_duration null, as FSD50K): clips of equal
length share a model call, and the outputs keep the split's file order."""

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from embedding_models.bundles import tone, write_bundle

from hearcore.bundle import BundleError, read_bundle
from heareval.api import load_model
from heareval.embeddings.clips import load_clip
from heareval.embeddings.output import read_embeddings
from heareval.embeddings.runner import run
from heareval.embeddings.task import _batches

SR = 16000
NAIVE = "heareval.models.naive"
NAIVE_OPTIONS = {"sample_rate": SR}
TICKER = "embedding_models.ticker"
# Seconds per clip and split: runs of equal lengths (as FSD50K's clips cut at 30 s or 10 s) and
# lengths of their own. Names are sorted in <split>.json and then shuffled, so equal lengths are
# not neighbours in the order the outputs follow.
LENGTHS = {
    "train": [1.0, 0.5, 1.0, 0.37, 1.0, 0.5, 1.23, 1.0, 0.5, 0.61],
    "valid": [0.5, 0.8, 0.5],
    "test": [1.0, 0.3, 1.0, 0.5, 1.0, 1.0],
}
SCENE_OUTPUTS = ["embedding-dimensions.json", "target-labels.pkl"]
EVENT_OUTPUTS = SCENE_OUTPUTS + ["filename-timestamps.json"]


def _labels(event: bool, i: int, seconds: float):
    if not event:
        return [["dog", "bark", "car"][i % 3]]
    return [
        {"label": "beep", "start": 50.0 * i, "end": 50.0 * i + 200.0},
        {"label": "buzz", "start": 100.0, "end": 1000.0 * seconds},
    ]


def _bundle(root, name="vl-1.0-full", event=False, lengths=None, only=None, rates=(SR,)):
    """A bundle of clips of their own length; `only` keeps those names of `lengths`."""
    lengths = LENGTHS if lengths is None else lengths
    splits = {}
    for s, (split, secs) in enumerate(lengths.items()):
        files = {}
        for i, seconds in enumerate(secs):
            filename = f"{split}_{i:02d}.wav"
            if only is None or filename in only:
                audio = {sr: tone(seconds, sr, 200 + 37 * i, seed=100 * s + i) for sr in rates}
                files[filename] = (audio, _labels(event, i, seconds))
        splits[split] = files
    meta = {
        "task_name": "vl", "version": "1.0", "embedding_type": "event" if event else "scene",
        "prediction_type": "multilabel", "split_mode": "trainvaltest", "sample_duration": None,
        "evaluation": ["mAP"], "mode": "full",
    }  # fmt: skip
    return write_bundle(root, name, meta, splits, rates)


def _embed(module, tasks, emb, options=None, **kw):
    [result] = run(module, tasks, emb, options=options, device="cpu", progress=False, **kw)
    return Path(result["out_dir"]), result["profile"]


def _file_order(bundle_dir):
    """Each split's file order as hear-eval-kit wrote it: one Random(0) shuffling the splits."""
    bundle = read_bundle(bundle_dir)
    prng = random.Random(0)
    order = {}
    for split in bundle.splits:
        files = list(bundle.labels(split))
        prng.shuffle(files)
        order[split] = files
    return order


def _lengths_of(split, files):
    """Seconds of each named clip (`<split>_<i>.wav`)."""
    return [LENGTHS[split][int(name.split("_")[1][:2])] for name in files]


def _assert_same_outputs(a: Path, b: Path, splits, names):
    for split in splits:
        for name in names:
            assert (a / f"{split}.{name}").read_bytes() == (b / f"{split}.{name}").read_bytes()
        ea, eb = read_embeddings(a, split), read_embeddings(b, split)
        assert ea.shape == eb.shape
        np.testing.assert_allclose(ea, eb, rtol=0, atol=1e-6)


def test_scene_budget_batching_equals_one_clip_at_a_time(tmp_path):
    bundle_dir = _bundle(tmp_path / "tasks")
    one, p1 = _embed(NAIVE, tmp_path / "tasks", tmp_path / "bs1", NAIVE_OPTIONS, batch_size=1)
    batched, pb = _embed(NAIVE, tmp_path / "tasks", tmp_path / "budget", NAIVE_OPTIONS)
    _assert_same_outputs(batched, one, LENGTHS, SCENE_OUTPUTS)
    # Rows follow the split's shuffled file order: row i is file i's clip embedded on its own.
    bundle = read_bundle(bundle_dir)
    module, model = load_model(NAIVE, options=NAIVE_OPTIONS, device=torch.device("cpu"))
    for split, files in _file_order(bundle_dir).items():
        targets = pickle.loads((batched / f"{split}.target-labels.pkl").read_bytes())
        assert targets == [bundle.labels(split)[name] for name in files]
        clips = [load_clip(bundle, split, name, SR, SR) for name in files]
        alone = np.concatenate(
            [module.get_scene_embeddings(torch.from_numpy(c[None, :]), model) for c in clips]
        )
        np.testing.assert_allclose(read_embeddings(batched, split), alone, rtol=0, atol=1e-6)
        assert [len(c) for c in clips] == [round(s * SR) for s in _lengths_of(split, files)]
    seconds = sum(map(sum, LENGTHS.values()))
    assert pb["clips"] == p1["clips"] == 19
    assert pb["audio_seconds"] == p1["audio_seconds"] == pytest.approx(seconds)
    assert not [p.name for p in batched.iterdir() if p.name.startswith(".")]  # no scratch file


def test_batch_sizes_show_equal_lengths_shared_calls(tmp_path):
    _bundle(tmp_path / "tasks")
    _, budget = _embed(NAIVE, tmp_path / "tasks", tmp_path / "budget", NAIVE_OPTIONS)
    _, one = _embed(NAIVE, tmp_path / "tasks", tmp_path / "bs1", NAIVE_OPTIONS, batch_size=1)
    # train: 4 x 1.0 s, 3 x 0.5 s, 3 lengths once; valid: 2 x 0.5 s, one; test: 4 x 1.0 s, 2 once.
    assert budget["batch_sizes"] == [1, 2, 3, 4]
    assert budget["batches"] == sum(len(set(secs)) for secs in LENGTHS.values()) == 10
    assert one["batch_sizes"] == [1] and one["batches"] == 19


def test_event_budget_batching_equals_one_clip_at_a_time(tmp_path):
    _bundle(tmp_path / "tasks", event=True)
    one, _ = _embed(NAIVE, tmp_path / "tasks", tmp_path / "bs1", NAIVE_OPTIONS, batch_size=1)
    batched, profile = _embed(NAIVE, tmp_path / "tasks", tmp_path / "budget", NAIVE_OPTIONS)
    _assert_same_outputs(batched, one, LENGTHS, EVENT_OUTPUTS)
    assert profile["batch_sizes"] == [1, 2, 3, 4] and profile["chunked_clips"] == 0
    for split, files in _file_order(tmp_path / "tasks" / "vl-1.0-full").items():
        stamps = json.loads((batched / f"{split}.filename-timestamps.json").read_text())
        names = [name for name, _ in stamps]
        # Every file's frames are contiguous, in the shuffled file order.
        assert [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n] == files
        frames = [round(s * SR) // 320 + 1 for s in _lengths_of(split, files)]  # 20 ms hop
        assert [names.count(n) for n in files] == frames


def test_long_clips_are_still_chunked_among_batched_ones(tmp_path):
    _bundle(tmp_path / "tasks", event=True)
    kw = {"chunk_seconds": 0.55, "context_seconds": 0.1}
    one, _ = _embed(TICKER, tmp_path / "tasks", tmp_path / "bs1", batch_size=1, **kw)
    batched, profile = _embed(TICKER, tmp_path / "tasks", tmp_path / "budget", **kw)
    whole, _ = _embed(TICKER, tmp_path / "tasks", tmp_path / "whole")
    _assert_same_outputs(batched, one, LENGTHS, EVENT_OUTPUTS)
    long_clips = sum(s > 0.55 for secs in LENGTHS.values() for s in secs)
    assert profile["chunked_clips"] == long_clips == 11
    assert profile["batch_sizes"] == [1, 2, 3]  # the 0.5 s clips share calls; 0.37, 0.3 alone
    for split in LENGTHS:  # chunking still agrees with whole-clip embeddings
        np.testing.assert_allclose(
            read_embeddings(batched, split), read_embeddings(whole, split), rtol=1e-5, atol=1e-6
        )


def test_naive_scene_embedding_does_not_depend_on_its_batch(tmp_path):
    module, model = load_model(NAIVE, options=NAIVE_OPTIONS, device=torch.device("cpu"))
    x = tone(1.0, SR, 330, seed=7)
    others = [tone(1.0, SR, 200 + 90 * k, seed=k) for k in range(5)]

    def scene(batch):
        return module.get_scene_embeddings(torch.from_numpy(np.stack(batch)), model).numpy()

    alone = scene([x])[0]
    np.testing.assert_allclose(scene([x] + others)[0], alone, rtol=0, atol=1e-6)
    np.testing.assert_allclose(scene(others[:2] + [x] + others[2:])[2], alone, rtol=0, atol=1e-6)

    # Through the embedding stage: train_00 (1.0 s) alone, with clips of its length only, and in
    # the full split where clips of other lengths are present too.
    subsets = {
        "alone": {"train_00.wav"},
        "same": {f"train_{i:02d}.wav" for i in (0, 2, 4, 7)},
        "mixed": None,
    }
    rows = {}
    for key, only in subsets.items():
        tasks = tmp_path / key
        bundle_dir = _bundle(tasks, only=only)
        out, profile = _embed(NAIVE, tasks, tmp_path / f"emb-{key}", NAIVE_OPTIONS)
        files = _file_order(bundle_dir)["train"]
        rows[key] = np.array(read_embeddings(out, "train")[files.index("train_00.wav")])
        if key == "same":
            assert 4 in profile["batch_sizes"]
    np.testing.assert_allclose(rows["same"], rows["alone"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(rows["mixed"], rows["alone"], rtol=0, atol=1e-6)


class _Stub:
    """An extractor that batches up to 3 clips and never chunks."""

    def needs_chunks(self, n):
        return False

    def batch_size(self, n):
        return 3


def test_batches_group_by_length_in_file_order_within_a_length():
    files = [f"f{i}" for i in range(8)]
    lengths = [5, 3, 5, 5, 3, 7, 5, 5]

    def load(f):
        return np.zeros(lengths[int(f[1])])

    got = [idx for idx, _ in _batches(files, lengths, load, _Stub())]
    assert got == [[1, 4], [0, 2, 3], [6, 7], [5]]
    # A clip whose audio is not the length its header announced is never stacked with others.
    odd = [idx for idx, _ in _batches(files, lengths, lambda f: np.zeros(5 + (f == "f3")), _Stub())]
    assert [[1], [4], [0], [2], [3], [6, 7], [5]] == odd


def test_unreadable_clip_is_named_before_any_embedding(tmp_path):
    bundle_dir = _bundle(tmp_path / "tasks")
    (bundle_dir / str(SR) / "test" / "test_03.wav").unlink()
    with pytest.raises(BundleError, match="test_03.wav"):
        _embed(TICKER, tmp_path / "tasks", tmp_path / "emb")
