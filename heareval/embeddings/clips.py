"""Reading a bundle's clips at the model's sample rate, resampling when the bundle lacks it."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from hearcore.bundle import Bundle, BundleError
from hearcore.signal import resample, to_mono, trim_or_pad


def choose_source_rate(available: list[int], model_rate: int) -> int:
    """The bundle rate to read: the model's own, else the closest higher one, else the highest.

    Raises:
        BundleError: the bundle has no audio folder at all.
    """
    if not available:
        raise BundleError("the bundle has no <sample_rate>/ audio folder")
    if model_rate in available:
        return model_rate
    higher = [r for r in available if r > model_rate]
    return min(higher) if higher else max(available)


def target_length(n_source: int, source_rate: int, model_rate: int, duration: float | None) -> int:
    """Clip length in samples at the model rate: the task duration when set, else the source
    length scaled to the new rate."""
    if duration is not None:
        return int(round(duration * model_rate))
    return int(round(n_source * model_rate / source_rate))


def load_clip(
    bundle: Bundle, split: str, filename: str, source_rate: int, model_rate: int
) -> np.ndarray:
    """One mono float32 clip at `model_rate`, trimmed/zero-padded to its exact target length.

    Raises:
        BundleError: the file is missing, unreadable or not at its folder's sample rate.
    """
    path = bundle.audio_path(source_rate, split, filename)
    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as e:
        raise BundleError(f"{bundle.name}: cannot read {path} ({e}); re-extract the bundle")
    if sr != source_rate:
        raise BundleError(f"{path}: sample rate {sr} in the {source_rate} folder")
    mono = to_mono(audio)
    n_out = target_length(len(mono), source_rate, model_rate, bundle.sample_duration)
    if source_rate != model_rate:
        mono = resample(mono, source_rate, model_rate, method="soxr")
    return trim_or_pad(mono, n_out)
