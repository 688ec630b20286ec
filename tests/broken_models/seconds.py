"""Timestamps in seconds (the abandoned May-2021 draft API) instead of milliseconds."""

from ._toy import get_scene_embeddings, load_model, timestamp_embeddings  # noqa: F401


def get_timestamp_embeddings(audio, model):
    return timestamp_embeddings(audio, model, unit=1e-3)
