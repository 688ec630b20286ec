"""Preprocessing for the HEAR benchmark: raw corpora to HEAR 2021 task bundles and tarballs."""

# The package version names the tarballs (hear-<version>-<bundle>-<sr>.tar.gz) and their root.
__version__ = "2026.1.0"
