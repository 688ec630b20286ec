"""load_model returns a plain object carrying the attributes, not a torch.nn.Module."""

from types import SimpleNamespace

from ._toy import get_scene_embeddings, get_timestamp_embeddings  # noqa: F401


def load_model(model_file_path=""):
    return SimpleNamespace(sample_rate=16000, scene_embedding_size=8, timestamp_embedding_size=8)
