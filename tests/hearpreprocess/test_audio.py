import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from hearpreprocess.audio import (
    AudioDecodeError,
    ClipInfo,
    process_clip,
    read_audio,
    resample,
    to_mono,
    trim_or_pad,
    write_wav,
)

RATES = (16000, 22050, 32000, 44100, 48000)
HAS_FFMPEG = shutil.which("ffmpeg") is not None
needs_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed")


def _tone(freq, sr, seconds, amplitude=0.5, channels=1):
    t = np.arange(round(seconds * sr)) / sr
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels == 1:
        return x
    return np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)


def _ffmpeg_tone(path, seconds=0.5, channels=2, sr=44100):
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    command += ["-i", f"sine=frequency=1000:sample_rate={sr}:duration={seconds}"]
    command += ["-ac", str(channels), str(path)]
    subprocess.run(command, check=True)


def _peak_frequency(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * sr / len(x)


@pytest.mark.parametrize("native_sr", [8000, 11025, 44100, 96000])
@pytest.mark.parametrize("channels", [1, 2])
def test_process_clip_exact_lengths_at_every_rate(tmp_path, native_sr, channels):
    src = tmp_path / "src.wav"
    sf.write(src, _tone(440, native_sr, 0.7, channels=channels), native_sr, subtype="PCM_16")
    for duration in (1.0, 0.56, 0.81, 4.77):
        dests = {sr: tmp_path / str(duration) / str(sr) / "clip.wav" for sr in RATES}
        info = process_clip(src, dests, duration)
        assert info.native_sr == native_sr and info.channels == channels
        assert info.native_frames == round(0.7 * native_sr)
        assert info.action == ("trimmed" if duration < 0.7 else "padded")
        for sr, dest in dests.items():
            meta = sf.info(dest)
            assert meta.frames == round(duration * sr), (native_sr, duration, sr)
            assert (meta.samplerate, meta.channels) == (sr, 1)
            assert (meta.format, meta.subtype, meta.endian) == ("WAV", "PCM_16", "FILE")


def test_process_clip_keeps_start_and_pads_with_zeros(tmp_path):
    sr = 16000
    x = _tone(300, sr, 0.5, channels=2)
    src = tmp_path / "src.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    info = process_clip(src, {sr: tmp_path / "long.wav"}, 1.0)
    assert info.action == "padded"
    y, _ = sf.read(tmp_path / "long.wav", dtype="int16")
    expected = np.clip(np.round(x.mean(axis=1) * 32768), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(y[: len(x)], expected)
    assert not y[len(x) :].any()
    info = process_clip(src, {sr: tmp_path / "short.wav"}, 0.25)
    assert info.action == "trimmed"
    y, _ = sf.read(tmp_path / "short.wav", dtype="int16")
    np.testing.assert_array_equal(y, expected[: sr // 4])
    info = process_clip(src, {sr: tmp_path / "exact.wav"}, 0.5)
    assert info == ClipInfo(native_sr=sr, channels=2, native_frames=sr // 2, action="exact")
    assert info.native_duration == 0.5


def test_process_clip_without_duration_keeps_full_length(tmp_path):
    src = tmp_path / "src.wav"
    sf.write(src, _tone(440, 11025, 0.3337), 11025)
    n = round(0.3337 * 11025)
    dests = {sr: tmp_path / f"{sr}.wav" for sr in RATES}
    info = process_clip(src, dests, None, method="resampy")
    assert info.action == "untrimmed"
    for sr, dest in dests.items():
        assert sf.info(dest).frames == round(n * sr / 11025)


def test_process_clip_cuts_segment(tmp_path):
    sr = 8000
    x = np.linspace(-0.5, 0.5, sr, dtype=np.float32)
    src = tmp_path / "src.wav"
    sf.write(src, x, sr, subtype="FLOAT")
    info = process_clip(src, {sr: tmp_path / "seg.wav"}, None, start=1000, stop=3000)
    assert info.native_frames == 2000
    y, _ = sf.read(tmp_path / "seg.wav")
    np.testing.assert_allclose(y, x[1000:3000], atol=1 / 32768)


@pytest.mark.parametrize("method", ["soxr", "resampy"])
@pytest.mark.parametrize("sr_out", RATES)
def test_resampled_tone_keeps_frequency_and_level(method, sr_out):
    sr_in, freq, amplitude = 44100, 1000, 0.5
    y = resample(_tone(freq, sr_in, 1.0, amplitude), sr_in, sr_out, method=method)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - sr_out) <= 2
    assert abs(_peak_frequency(y[:sr_out], sr_out) - freq) <= 1.0
    middle = y[len(y) // 10 : -len(y) // 10]
    rms_db = 20 * np.log10(np.sqrt(np.mean(middle.astype(np.float64) ** 2)))
    assert abs(rms_db - 20 * np.log10(amplitude / np.sqrt(2))) < 0.1


def test_resample_validates_method_and_shape():
    with pytest.raises(ValueError, match="method"):
        resample(np.zeros(10, np.float32), 8000, 16000, method="linear")
    with pytest.raises(ValueError, match="1-D"):
        resample(np.zeros((10, 2), np.float32), 8000, 16000)
    same = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(resample(same, 8000, 8000), same)


def test_write_wav_rounds_and_clips_to_pcm16(tmp_path):
    path = tmp_path / "sub" / "x.wav"
    write_wav(path, np.array([0.5, -1.0, 1.0, 1.5, -2.0, 1e-6, 0.25 / 32768]), 16000)
    meta = sf.info(path)
    assert (meta.subtype, meta.channels, meta.samplerate) == ("PCM_16", 1, 16000)
    assert path.read_bytes()[:4] == b"RIFF"  # little-endian RIFF, not RIFX
    y, _ = sf.read(path, dtype="int16")
    np.testing.assert_array_equal(y, [16384, -32768, 32767, 32767, -32768, 0, 0])
    with pytest.raises(ValueError, match="mono"):
        write_wav(path, np.zeros((4, 2)), 16000)


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_24", "PCM_16"])
def test_read_audio_float_and_24_bit(tmp_path, subtype):
    x = _tone(440, 22050, 0.2, channels=2)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, 22050, subtype=subtype)
    y, sr = read_audio(path)
    assert sr == 22050 and y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1 / 32768)
    segment, _ = read_audio(path, start=100, stop=300)
    np.testing.assert_array_equal(segment, y[100:300])


def test_to_mono_and_trim_or_pad():
    x = np.array([[1.0, 0.0], [0.5, -0.5]], dtype=np.float32)
    np.testing.assert_array_equal(to_mono(x), [0.5, 0.0])
    assert to_mono(x).dtype == np.float32
    np.testing.assert_array_equal(trim_or_pad(np.array([1, 2, 3]), 2), [1, 2])
    np.testing.assert_array_equal(trim_or_pad(np.array([1, 2]), 4), [1, 2, 0, 0])
    assert trim_or_pad(np.ones((2, 3)), 4).shape == (4, 3)


@needs_ffmpeg
@pytest.mark.parametrize("ext", ["webm", "m4a"])
def test_ffmpeg_fallback_for_formats_libsndfile_cannot_read(tmp_path, ext):
    path = tmp_path / f"tone.{ext}"
    _ffmpeg_tone(path, seconds=0.5, channels=2, sr=48000)
    with pytest.raises(sf.LibsndfileError):
        sf.info(path)  # proves this test exercises the ffmpeg path
    x, sr = read_audio(path)
    assert sr == 48000 and x.shape[1] == 2 and x.dtype == np.float32
    assert abs(len(x) - 24000) < 2048  # codec priming/padding frames
    assert abs(_peak_frequency(to_mono(x), sr) - 1000) < 5
    segment, _ = read_audio(path, start=10, stop=110)
    np.testing.assert_array_equal(segment, x[10:110])
    info = process_clip(path, {16000: tmp_path / "out.wav"}, 1.0)
    assert (info.native_sr, info.channels, info.action) == (48000, 2, "padded")
    assert sf.info(tmp_path / "out.wav").frames == 16000


@needs_ffmpeg
@pytest.mark.parametrize("ext", ["mp3", "ogg"])
def test_compressed_formats_decode(tmp_path, ext):
    path = tmp_path / f"tone.{ext}"
    _ffmpeg_tone(path, seconds=0.5, channels=1, sr=44100)
    x, sr = read_audio(path)
    assert sr == 44100 and x.shape[1] == 1
    assert abs(_peak_frequency(x[:, 0], sr) - 1000) < 5


@pytest.mark.parametrize("name", ["broken.wav", "broken.mp3", "broken.webm"])
def test_undecodable_file_raises_audio_decode_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not audio at all" * 20)
    with pytest.raises(AudioDecodeError, match=name):
        read_audio(path)
    with pytest.raises(AudioDecodeError):
        process_clip(path, {16000: tmp_path / "x.wav"}, 1.0)
    assert not (tmp_path / "x.wav").exists()


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        read_audio(tmp_path / "nope.wav")
