"""A tiny valid HEAR model (frame RMS through a linear layer) that the broken modules distort."""

import torch

HOP_MS = 25.0


class Toy(torch.nn.Module):
    def __init__(self, sample_rate=16000, size=8):
        super().__init__()
        self.sample_rate = sample_rate
        self.scene_embedding_size = size
        self.timestamp_embedding_size = size
        self.proj = torch.nn.Linear(1, size)


def timestamp_embeddings(audio, model, jitter_ms=0.0, unit=1.0):
    """Frame k is centred on sample k * hop; ``unit`` 1e-3 gives seconds instead of ms."""
    hop = int(model.sample_rate * HOP_MS / 1000)
    n_frames = audio.shape[1] // hop + 1
    padded = torch.nn.functional.pad(audio, (hop // 2, hop))
    frames = padded.unfold(1, hop, hop)[:, :n_frames]
    embeddings = model.proj(frames.square().mean(-1, keepdim=True).sqrt())
    k = torch.arange(n_frames, dtype=torch.float32)
    stamps = (k * hop * 1000.0 / model.sample_rate + jitter_ms * (k % 2)) * unit
    return embeddings, stamps.expand(audio.shape[0], -1)


def load_model(model_file_path=""):
    return Toy()


def get_timestamp_embeddings(audio, model):
    return timestamp_embeddings(audio, model)


def get_scene_embeddings(audio, model):
    return timestamp_embeddings(audio, model)[0].mean(1)
