"""Embedding stage: HEAR model + task bundles -> the files hear-eval-kit's prediction stage reads.

Entry points: `python -m heareval.embeddings.runner` (CLI) and `heareval.embeddings.runner.run`.
"""
