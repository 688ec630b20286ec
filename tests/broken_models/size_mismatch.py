"""Size attributes disagree with the embeddings (16 declared, 8 produced)."""

from ._toy import Toy, get_scene_embeddings, get_timestamp_embeddings  # noqa: F401


def load_model(model_file_path=""):
    model = Toy()
    model.scene_embedding_size = model.timestamp_embedding_size = 16
    return model
