"""Embeddings in float64 instead of float32."""

from ._toy import load_model, timestamp_embeddings  # noqa: F401


def get_timestamp_embeddings(audio, model):
    embeddings, stamps = timestamp_embeddings(audio, model)
    return embeddings.double(), stamps


def get_scene_embeddings(audio, model):
    return timestamp_embeddings(audio, model)[0].mean(1).double()
