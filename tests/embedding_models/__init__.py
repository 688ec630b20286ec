"""Tiny HEAR modules and bundle writers for the embedding-stage tests."""
