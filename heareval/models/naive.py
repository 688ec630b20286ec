"""Naive baseline HEAR module: log-mel spectrogram followed by a fixed random projection.

Pipeline per frame: Hann window of ~93 ms -> power spectrum -> 128 Slaney mel bands
(:mod:`heareval.models.mel`) -> ``log(mel + 1e-12)`` scaled to [0, ~1] -> a seeded random projection
to 512 dims.

Choices and why:
* **FFT size** ~93 ms at every rate (4096 samples at 44.1 kHz, as hearbaseline) but always a
  product of 2, 3 and 5 (1500, 2048, 3000, 4096, 4500) so the FFT stays fast.
* **Hop 20 ms**: below the 50 ms HEAR recommendation and an integer number of samples at all five
  HEAR rates (320, 441, 640, 882, 960), so timestamps are exactly regular (even under
  hear-validator 2021.0.2's 1e-3 ms tolerance) and never drift. Frame starts are computed
  per frame index as ``k * hop_samples``, and frames are a strided view of the padded clip.
* **512 dims**: the projection is linear, so any size >= 128 keeps all of the log-mel's
  information (full column rank with probability 1); hearbaseline's 4096 only multiplies the
  storage of event-task embeddings (8x here) without adding information.
* Frames are centred: ``n_fft // 2`` zeros are padded at the start, so frame k is centred on
  sample ``k * hop`` and its timestamp is that sample in ms (the first is 0).
* The window is normalised to unit sum, so a full-scale sine has power ~0.25 whatever the rate
  and the log floor means the same at every rate.
* **Log floor 1e-12**, just above the 16-bit quantisation noise (~3e-14 per bin): quiet
  recordings keep their detail. hearbaseline's 1e-4 flattened them into one constant embedding:
  the real HEAR 2021 spoken_digit small bundle peaks at 3 LSB (its source zip at 1 LSB), and with
  1e-4 every clip of it got the same embedding.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hearcore.format import SAMPLE_RATES
from heareval.models.mel import mel_filterbank

N_FFT = {16000: 1500, 22050: 2048, 32000: 3000, 44100: 4096, 48000: 4500}
HOP_MS = 20.0
N_MELS = 128
EMBEDDING_SIZE = 512
LOG_OFFSET = 1e-12
SEED = 0
# Frame samples transformed at once: bounds memory on long clips, and ~8 MiB blocks stay in
# cache (measured faster than one big block for 64 x 1 s at 44.1 kHz).
_MAX_FRAME_SAMPLES = 1 << 21
# Mel bands per block of the block-sparse mel product: each block multiplies only the FFT bins
# its bands cover (a quarter of the dense product's work; 16 measured fastest of 4 to 128).
_MEL_BLOCK = 16


class NaiveMelProjection(torch.nn.Module):
    """Log-mel + random projection; ``forward(audio) -> (embeddings, timestamps)``."""

    # Registered buffers (they follow .to(device)); declared so that they type as tensors.
    window: torch.Tensor
    mel_filters: torch.Tensor
    projection: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 44100,
        n_mels: int = N_MELS,
        embedding_size: int = EMBEDDING_SIZE,
        seed: int = SEED,
    ):
        super().__init__()
        if sample_rate not in N_FFT:
            raise ValueError(
                f"naive model: sample_rate {sample_rate!r} is not a HEAR rate; "
                f"choose one of {SAMPLE_RATES}"
            )
        self.sample_rate = int(sample_rate)
        self.n_fft = N_FFT[self.sample_rate]
        # 20 ms is a whole number of samples at every HEAR rate, so frames are a strided view.
        self.hop_samples = int(HOP_MS * self.sample_rate) // 1000
        self.scene_embedding_size = int(embedding_size)
        self.timestamp_embedding_size = int(embedding_size)
        window = torch.hann_window(self.n_fft, periodic=True, dtype=torch.float64)
        self.register_buffer("window", (window / window.sum()).float(), persistent=False)
        filters = torch.from_numpy(mel_filterbank(self.sample_rate, self.n_fft, n_mels)).float()
        self.register_buffer("mel_filters", filters, persistent=False)
        self.mel_blocks = _mel_blocks(filters, _MEL_BLOCK)  # plain ints: follow any .to(device)
        generator = torch.Generator().manual_seed(int(seed))
        projection = torch.randn(n_mels, embedding_size, generator=generator, dtype=torch.float64)
        self.register_buffer("projection", (projection / math.sqrt(n_mels)).float())

    def frame_starts(self, n_samples: int) -> torch.Tensor:
        """Centre sample of every frame: ``k * hop`` for every centre within the clip."""
        return torch.arange(n_samples // self.hop_samples + 1) * self.hop_samples

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        audio = _as_batch(audio, self.window.device)
        n_clips, n_samples = audio.shape
        half = self.n_fft // 2
        padded = torch.nn.functional.pad(audio, (half, self.n_fft - half))
        frames = padded.unfold(1, self.n_fft, self.hop_samples)  # a view: (clips, frames, n_fft)
        n_frames = frames.shape[1]
        out = torch.empty(n_clips, n_frames, self.projection.shape[1], device=audio.device)
        # Blocks of whole clips (short clips) or of frames of one clip (long clips), so every
        # block's frames fit in _MAX_FRAME_SAMPLES whatever the batch size.
        per_block = max(1, _MAX_FRAME_SAMPLES // self.n_fft)
        clips_per_block = max(1, per_block // n_frames)
        frames_per_block = min(n_frames, per_block)
        for c in range(0, n_clips, clips_per_block):
            for f in range(0, n_frames, frames_per_block):
                block = frames[c : c + clips_per_block, f : f + frames_per_block]
                out[c : c + clips_per_block, f : f + frames_per_block] = self._embed_frames(block)
        starts = self.frame_starts(n_samples).to(audio.device)
        timestamps = (starts.double() * 1000.0 / self.sample_rate).float()
        return out, timestamps.expand(n_clips, -1).contiguous()

    def _embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(frames * self.window, dim=-1)
        power = spectrum.real.square() + spectrum.imag.square()
        mel = torch.cat(
            [power[..., lo:hi] @ self.mel_filters[lo:hi, b:e] for b, e, lo, hi in self.mel_blocks],
            dim=-1,
        )
        # Scaled to [0, ~1] (silence 0, a full-scale tone ~1): embeddings of order 1, which a
        # downstream BatchNorm's running statistics (initialised to mean 0, variance 1) track
        # within a few steps even on tiny training sets.
        log_mel = 1.0 - torch.log(mel + LOG_OFFSET) / math.log(LOG_OFFSET)
        return log_mel @ self.projection


def _mel_blocks(filters: torch.Tensor, size: int) -> list[tuple[int, int, int, int]]:
    """(first band, end band, first bin, end bin) per block of `size` bands: the FFT bins that
    any band of the block covers."""
    blocks = []
    for first in range(0, filters.shape[1], size):
        end = min(first + size, filters.shape[1])
        covered = (filters[:, first:end] > 0).any(dim=1).nonzero().flatten()
        lo, hi = (int(covered.min()), int(covered.max()) + 1) if len(covered) else (0, 1)
        blocks.append((first, end, lo, hi))
    return blocks


def _as_batch(audio: torch.Tensor, device: torch.device) -> torch.Tensor:
    if not isinstance(audio, torch.Tensor):
        audio = torch.as_tensor(np.asarray(audio))
    if audio.ndim != 2:
        raise ValueError(
            f"audio must be a 2-D tensor (n_sounds, n_samples), got shape {tuple(audio.shape)}"
        )
    return audio.to(device=device, dtype=torch.float32)


def load_model(
    model_file_path: str = "",
    sample_rate: int = 44100,
    n_mels: int = N_MELS,
    embedding_size: int = EMBEDDING_SIZE,
    seed: int = SEED,
) -> NaiveMelProjection:
    """HEAR ``load_model``: the naive model at one of the five HEAR rates.

    Args:
        model_file_path: optional ``state_dict`` file holding ``projection``
            (``n_mels x embedding_size``); empty uses the seeded random projection.
        sample_rate: one of 16000, 22050, 32000, 44100, 48000.
        n_mels: number of mel bands.
        embedding_size: output dimension of the projection.
        seed: seed of the random projection.
    """
    model = NaiveMelProjection(sample_rate, n_mels, embedding_size, seed)
    if model_file_path:
        state = torch.load(model_file_path, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"{model_file_path} is not a naive-model state_dict for n_mels={n_mels}, "
                f"embedding_size={embedding_size}: {exc}"
            ) from exc
    return model.eval()


def get_timestamp_embeddings(
    audio: torch.Tensor, model: NaiveMelProjection
) -> tuple[torch.Tensor, torch.Tensor]:
    """HEAR API: ``(n_sounds, n_frames, 512)`` float32 embeddings, ``(n_sounds, n_frames)`` ms."""
    with torch.no_grad():
        return model(audio)


def get_scene_embeddings(audio: torch.Tensor, model: NaiveMelProjection) -> torch.Tensor:
    """HEAR API: mean over time of the timestamp embeddings, ``(n_sounds, 512)`` float32."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
