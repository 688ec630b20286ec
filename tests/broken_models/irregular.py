"""Timestamps alternate between 20 and 30 ms steps."""

from ._toy import get_scene_embeddings, load_model, timestamp_embeddings  # noqa: F401


def get_timestamp_embeddings(audio, model):
    embeddings, stamps = timestamp_embeddings(audio, model, jitter_ms=5.0)
    return embeddings, stamps
