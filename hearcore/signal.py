"""Signal operations both stages apply to clips: downmix, trim/pad, resample.

Preprocessing applies them when it builds a bundle; the embedding stage applies the same ones when
a model's rate is not in the bundle, so a clip resampled on the fly equals one resampled at build
time.
"""

from __future__ import annotations

import numpy as np

RESAMPLE_METHODS = ("soxr", "resampy")
# HEAR 2021 resampled with ffmpeg's soxr at its default 20-bit precision, which is soxr "HQ".
SOXR_QUALITY = "HQ"


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels (what ffmpeg `-ac 1` does for stereo) into a 1-D float32 array."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        return x.copy()
    if x.ndim != 2:
        raise ValueError(f"Expected (frames, channels) audio, got shape {x.shape}")
    # Summing whole columns is ~10x faster than mean(axis=1), which reduces 2-element rows.
    total = x[:, 0].copy()
    for channel in range(1, x.shape[1]):
        total += x[:, channel]
    total /= np.float32(x.shape[1])  # in place: one mono buffer, not two
    return total


def trim_or_pad(x: np.ndarray, n_frames: int) -> np.ndarray:
    """Keep the first `n_frames` frames, zero-padding at the end when `x` is shorter.

    Args:
        x: audio, frames along axis 0.
        n_frames: the wanted length.

    Returns:
        A new array with `n_frames` frames.
    """
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    x = np.asarray(x)
    if len(x) >= n_frames:
        return x[:n_frames].copy()
    pad = np.zeros((n_frames - len(x),) + x.shape[1:], dtype=x.dtype)
    return np.concatenate([x, pad], axis=0)


def resample(x: np.ndarray, sr_in: int, sr_out: int, method: str = "soxr") -> np.ndarray:
    """Resample a 1-D signal.

    Args:
        x: 1-D audio.
        sr_in: its sample rate.
        sr_out: the wanted sample rate.
        method: "soxr" (HQ, what HEAR 2021 used through ffmpeg) or "resampy" (kaiser_best).

    Returns:
        1-D float32 array; its length is the resampler's (about len(x) * sr_out / sr_in).
    """
    if method not in RESAMPLE_METHODS:
        raise ValueError(f"Unknown resample method {method!r}; use one of {RESAMPLE_METHODS}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample expects 1-D audio, got shape {x.shape}")
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"Sample rates must be positive, got {sr_in} -> {sr_out}")
    if sr_in == sr_out or len(x) == 0:
        return x.copy() if sr_in == sr_out else np.zeros(0, dtype=np.float32)
    if method == "soxr":
        import soxr

        y = soxr.resample(x, sr_in, sr_out, quality=SOXR_QUALITY)
    else:
        import resampy

        y = resampy.resample(x, sr_in, sr_out, filter="kaiser_best")
    return np.asarray(y, dtype=np.float32)
