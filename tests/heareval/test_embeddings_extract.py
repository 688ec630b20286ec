import numpy as np
import pytest
import torch
from embedding_models.bundles import tone

from heareval.api import load_model
from heareval.embeddings.clips import choose_source_rate, target_length
from heareval.embeddings.extract import Extractor, _align_samples, check_regular, chunk_windows

CPU = torch.device("cpu")


def _extractor(is_event=True, **options):
    opts = {k: options.pop(k) for k in ("sample_rate", "hop_ms") if k in options}
    module, model = load_model("embedding_models.ticker", options=opts, device=CPU)
    ex = Extractor(module, model, CPU, is_event, **options)
    ex.probe()
    return ex


def test_chunk_windows_cover_the_clip_once():
    windows = chunk_windows(1000, 300, 50)
    assert [(w[2], w[3]) for w in windows] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert windows[0][:2] == (0, 350) and windows[1][:2] == (250, 650)
    assert windows[-1][:2] == (850, 1000)


def test_alignment_is_the_smallest_whole_number_of_hops():
    assert _align_samples(50.0, 44100) == 2205
    assert _align_samples(25.0, 44100) == 4410  # 1102.5 samples per hop; even shifts keep ties
    assert _align_samples(10.0, 16000) == 160
    assert _align_samples(512 / 44.1, 44100) == 512


@pytest.mark.parametrize("sr,hop_ms,chunk_s", [(16000, 10.0, 0.5), (44100, 25.0, 0.37)])
def test_chunked_equals_unchunked(sr, hop_ms, chunk_s):
    clip = tone(3.3, sr, seed=3)
    ex = _extractor(sample_rate=sr, hop_ms=hop_ms, chunk_seconds=chunk_s, context_seconds=0.1)
    whole_rows, whole_ts = ex.embed_batch(clip[None, :])[0]
    assert ex.needs_chunks(len(clip))
    rows, ts = ex.embed_chunked(clip)
    assert len(ts) == len(whole_ts) == int(len(clip) // (hop_ms * sr / 1000)) + 1
    np.testing.assert_allclose(ts, whole_ts, atol=1e-6)
    np.testing.assert_allclose(rows, whole_rows, rtol=1e-5, atol=1e-6)


def test_too_little_context_is_seen_in_the_embeddings():
    clip = tone(2.0, 16000, seed=4)
    ex = _extractor(chunk_seconds=0.5, context_seconds=0.0)
    ex.context_seconds = 0.0
    rows, ts = ex.embed_chunked(clip)
    whole_rows, whole_ts = ex.embed_batch(clip[None, :])[0]
    np.testing.assert_allclose(ts, whole_ts, atol=1e-6)  # stitching is still exact
    assert not np.allclose(rows, whole_rows)  # but frames at the borders lack their context


def test_irregular_stitched_timestamps_are_refused():
    check_regular(np.arange(10) * 50.0, 50.0)
    with pytest.raises(RuntimeError, match="irregular"):
        check_regular(np.array([0.0, 50.0, 150.0, 200.0]), 50.0)
    with pytest.raises(RuntimeError, match="irregular"):
        check_regular(np.array([0.0, 50.0, 50.0, 100.0]), 50.0)


def test_batch_size_follows_the_budget():
    small = _extractor(is_event=False, memory_budget_mb=1)
    big = _extractor(is_event=False, memory_budget_mb=256)
    assert small.batch_size(16000 * 60) == 1
    assert big.batch_size(16000) > 10 * small.batch_size(16000)
    assert big.plan.bytes_per_second >= 16000 * 4
    forced = _extractor(is_event=False, batch_size=7)
    assert forced.batch_size(16000) == 7


def test_source_rate_and_target_length():
    assert choose_source_rate([44100], 16000) == 44100
    assert choose_source_rate([16000, 22050, 48000], 16000) == 16000
    assert choose_source_rate([22050, 44100, 48000], 32000) == 44100
    assert choose_source_rate([16000, 22050], 44100) == 22050
    assert target_length(44100, 44100, 16000, 1.0) == 16000
    assert target_length(44101, 44100, 22050, None) == 22050
