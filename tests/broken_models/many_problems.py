"""Several faults at once: rate 8000, no timestamp_embedding_size, float64, seconds."""

from ._toy import Toy, timestamp_embeddings


def load_model(model_file_path=""):
    model = Toy(sample_rate=8000)
    del model.timestamp_embedding_size
    return model


def get_timestamp_embeddings(audio, model):
    embeddings, stamps = timestamp_embeddings(audio, model, unit=1e-3)
    return embeddings.double(), stamps


def get_scene_embeddings(audio, model):
    return timestamp_embeddings(audio, model)[0].mean(1)[:, :4]
