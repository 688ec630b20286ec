"""Mel filterbank computed in-house (no librosa at run time).

Slaney's mel scale (Auditory Toolbox; librosa's default, ``htk=False``): linear below 1 kHz
(200/3 Hz per mel), logarithmic above (27 mels per factor 6.4), with "slaney" area
normalisation (each triangle scaled by 2 / bandwidth, so filters have roughly constant energy
per Hz instead of constant height).
"""

from __future__ import annotations

import numpy as np

_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel value of a frequency in Hz."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _HZ_PER_MEL
    log = _BREAK_MEL + np.log(np.maximum(hz, _BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return np.where(hz < _BREAK_HZ, linear, log)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Frequency in Hz of a Slaney mel value (inverse of :func:`hz_to_mel`)."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _HZ_PER_MEL
    log = _BREAK_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _BREAK_MEL) - _BREAK_MEL))
    return np.where(mel < _BREAK_MEL, linear, log)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters for a one-sided power spectrum.

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size; the spectrum has ``n_fft // 2 + 1`` bins.
        n_mels: number of mel bands.
        fmin: lowest band edge in Hz.
        fmax: highest band edge in Hz (default: Nyquist).

    Returns:
        float64 array ``(n_fft // 2 + 1, n_mels)``, so that ``power @ filters`` gives mel energies.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    triangles *= 2.0 / (upper - lower)
    return triangles.T
