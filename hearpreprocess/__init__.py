"""Preprocessing for the HEAR benchmark: raw corpora to HEAR 2021 task bundles and tarballs."""

from hearcore import __version__

__all__ = ["__version__"]
