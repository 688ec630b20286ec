"""The facts of the HEAR task bundle format, each defined once.

A bundle is a folder `<task>-<version>-<mode>/` holding `task_metadata.json`,
`labelvocabulary.csv`, one `<split>.json` per split and `<sample_rate>/<split>/<stem>.wav` for one
or more rates; bundles we build also hold `report.json` (what preprocessing did) and
`manifest.json` (sha256 and size of every other file). HEAR 2021's bundles have neither.
"""

from __future__ import annotations

from hearcore import __version__

SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
EMBEDDING_TYPES = ("scene", "event")
PREDICTION_TYPES = ("multiclass", "multilabel")
TVT_SPLITS = ("train", "valid", "test")

METADATA_FILE = "task_metadata.json"
VOCABULARY_FILE = "labelvocabulary.csv"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.json"
# Inside a tarball every bundle lies under this folder.
TAR_ROOT = f"hear-{__version__}/tasks"


def fold_name(index: int) -> str:
    """The split name of fold `index` of a k-fold task: fold00, fold01, ..."""
    return f"fold{index:02d}"


def fold_names(n_folds: int) -> list[str]:
    """The split names of a task with `n_folds` folds, in order."""
    return [fold_name(i) for i in range(n_folds)]


def split_file(split: str) -> str:
    """The labels file of a split: `<split>.json`."""
    return f"{split}.json"


def bundle_name(task_name: str, version: str, mode: str) -> str:
    """The folder name of a bundle: `<task>-<version>-<mode>`."""
    return f"{task_name}-{version}-{mode}"


def tarball_name(bundle: str, sample_rate: int) -> str:
    """The tarball of one bundle at one rate: `hear-<tool version>-<bundle>-<rate>.tar.gz`."""
    return f"hear-{__version__}-{bundle}-{sample_rate}.tar.gz"


def audio_relpath(sample_rate: int, split: str, filename: str) -> str:
    """Where a clip lies inside a bundle: `<rate>/<split>/<file>.wav`."""
    return f"{sample_rate}/{split}/{filename}"
