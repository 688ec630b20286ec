"""The generic Luigi graph shared by every task.

DownloadedFile -> SourceFolder (per source) -> CorpusMetadata -> SplitMetadata (+ the shard plan)
-> [KeptAudio] -> AudioShard (per split and shard) -> TaskBundle -> TaskTarball (per sample rate)
-> AllTasks. One atomic target per step; each step's Luigi parameters are what shapes it (base.py).
"""

from hearpreprocess.pipeline.audio import AudioShard
from hearpreprocess.pipeline.bundle import TaskBundle
from hearpreprocess.pipeline.download import DownloadedFile, SourceFolder
from hearpreprocess.pipeline.kept import KeptAudio
from hearpreprocess.pipeline.metadata import CorpusMetadata, SplitMetadata
from hearpreprocess.pipeline.tarball import AllSplits, AllTasks, TaskTarball

__all__ = [
    "AllSplits",
    "AllTasks",
    "AudioShard",
    "CorpusMetadata",
    "DownloadedFile",
    "KeptAudio",
    "SourceFolder",
    "SplitMetadata",
    "TaskBundle",
    "TaskTarball",
]
