"""A sample rate that HEAR tasks are never distributed at."""

from ._toy import Toy, get_scene_embeddings, get_timestamp_embeddings  # noqa: F401


def load_model(model_file_path=""):
    return Toy(sample_rate=8000)
