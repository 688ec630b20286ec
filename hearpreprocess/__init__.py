"""Preprocessing for the HEAR benchmark: raw corpora to HEAR 2021 task bundles and tarballs."""

# The package version appears in tarball names (hear-<version>-<bundle>-<sr>.tar.gz) and their root folder.
__version__ = "2026.1.0"
