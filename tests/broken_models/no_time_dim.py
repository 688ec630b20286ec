"""Timestamp embeddings without the time dimension: (n_sounds, dim)."""

from ._toy import get_scene_embeddings, load_model, timestamp_embeddings  # noqa: F401


def get_timestamp_embeddings(audio, model):
    embeddings, stamps = timestamp_embeddings(audio, model)
    return embeddings.mean(1), stamps
