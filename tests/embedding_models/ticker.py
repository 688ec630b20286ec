"""A tiny HEAR module whose embeddings are simple statistics of the audio around each frame.

Frames are centred (zero padding of half a window on each side), start at round(k * hop) samples
and number n_samples // hop + 1, like hearbaseline's framing, so chunked extraction can be checked
exactly. Options: `sample_rate`, `hop_ms`, `window_ms`; `fail_after` / `exit_after` raise or kill
the process on that call (interrupted-run tests). A weights file holds one float, a scale factor.
"""

import os

import torch


class Ticker(torch.nn.Module):
    def __init__(self, sample_rate, hop_ms, window_ms, scale, fail_after, exit_after):
        super().__init__()
        self.sample_rate = sample_rate
        self.hop_ms = hop_ms
        self.window = int(round(window_ms * sample_rate / 1000))
        self.scene_embedding_size = 4
        self.timestamp_embedding_size = 4
        self.register_buffer("ramp", torch.linspace(-1.0, 1.0, self.window))
        self.scale = scale
        self.fail_after = fail_after
        self.exit_after = exit_after
        self.calls = 0


def load_model(
    model_file_path="", sample_rate=16000, hop_ms=10.0, window_ms=25.0, fail_after=-1, exit_after=-1
):
    scale = float(open(model_file_path).read()) if model_file_path else 1.0
    return Ticker(sample_rate, hop_ms, window_ms, scale, fail_after, exit_after)


def get_timestamp_embeddings(audio, model):
    model.calls += 1
    if model.calls == model.fail_after:
        raise RuntimeError("ticker: simulated failure")
    if model.calls == model.exit_after:
        os._exit(3)
    n = audio.shape[1]
    hop = model.hop_ms * model.sample_rate / 1000
    n_frames = int(n // hop) + 1
    half = model.window // 2
    padded = torch.nn.functional.pad(audio, (half, model.window - half))
    starts = torch.tensor([int(round(k * hop)) for k in range(n_frames)], device=audio.device)
    idx = starts[:, None] + torch.arange(model.window, device=audio.device)[None, :]
    frames = padded[:, idx]  # (B, T, W)
    ts = torch.arange(n_frames, device=audio.device, dtype=torch.float64) * model.hop_ms
    emb = torch.stack(
        [
            frames.abs().amax(-1) * model.scale,
            frames.mean(-1) * model.scale,
            (frames * model.ramp).mean(-1) * model.scale,
            (frames**2).mean(-1) * model.scale,
        ],
        dim=-1,
    )
    return emb, ts.to(torch.float32)[None, :].expand(len(audio), -1)


def get_scene_embeddings(audio, model):
    emb, _ = get_timestamp_embeddings(audio, model)
    return emb.mean(dim=1)
