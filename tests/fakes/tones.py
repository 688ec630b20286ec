"""The built-in `tones` corpus is its own fake: the real generator's archive, served by a mirror.

Counts: 200 clips (40 per pitch class) in 5 folds of 40; small mode caps each fold at 10 clips.
"""

from __future__ import annotations

from pathlib import Path

from fakes import FakeCorpus, SpotCheck, mirror_location

from hearpreprocess.builtin.tones import CLIPS_PER_LABEL, PITCHES, write_archive
from hearpreprocess.config import TaskConfig

# Regression checks: folds follow from HEAR's k-fold seeds over the sorted stems.
SPOT_CHECKS = {
    "full": [SpotCheck("a3-001", "fold00", ("a3",)), SpotCheck("a3-014", "fold01", ("a3",))],
    "small": [SpotCheck("a4-001", "fold02", ("a4",)), SpotCheck("a4-012", "fold03", ("a4",))],
}


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    corpus = FakeCorpus(labels=set(PITCHES), spot_checks=SPOT_CHECKS[config.mode])
    for source in config.sources:
        corpus.md5[source.url] = write_archive(mirror_location(mirror_root, source.url))
    per_fold = CLIPS_PER_LABEL * len(PITCHES) // config.nfolds
    if config.max_task_duration_by_fold is not None:
        per_fold = min(per_fold, int(config.max_task_duration_by_fold / config.sample_duration))
    corpus.split_counts = {split: per_fold for split in config.splits}
    return corpus
