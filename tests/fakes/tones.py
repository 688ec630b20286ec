"""The built-in `tones` corpus is its own fake: the real generator's archive, served by a mirror.

Counts: 200 clips (40 per pitch class) in 5 folds of 40; small mode caps each fold at 10 clips.
Scaled (fakes.Scale): the generator's own clips_per_label, so its clip lengths (about 1 s), at
another host (SCALED_URL): the runner serves the built-in host itself, with the default archive.
"""

from __future__ import annotations

from pathlib import Path

from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.tones import CLIPS_PER_LABEL, PITCHES, write_archive
from hearpreprocess.config import TaskConfig

# Regression checks: folds follow from HEAR's k-fold seeds over the sorted stems.
SCALABLE = True
SCALED_URL = "https://corpora.test/tones/tones-v1-scaled.zip"
SPOT_CHECKS = {
    "full": [SpotCheck("a3-001", "fold00", ("a3",)), SpotCheck("a3-014", "fold01", ("a3",))],
    "small": [SpotCheck("a4-001", "fold02", ("a4",)), SpotCheck("a4-012", "fold03", ("a4",))],
}


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    scale = current_scale()
    if scale is not None:
        per_label = scale.per_group(len(PITCHES), splits=len(config.splits))
        corpus = FakeCorpus(labels=set(PITCHES))
        for source in config.sources:
            path = mirror_location(mirror_root, SCALED_URL)
            corpus.md5[source.url] = write_archive(path, clips_per_label=per_label)
            corpus.moved[source.url] = SCALED_URL
        return corpus
    corpus = FakeCorpus(labels=set(PITCHES), spot_checks=SPOT_CHECKS[config.mode])
    for source in config.sources:
        corpus.md5[source.url] = write_archive(mirror_location(mirror_root, source.url))
    per_fold = CLIPS_PER_LABEL * len(PITCHES) // len(config.splits)
    if config.max_task_duration_by_fold is not None:
        clip_seconds = config.sample_duration or 1.0  # tones.toml sets 1.0
        per_fold = min(per_fold, int(config.max_task_duration_by_fold / clip_seconds))
    corpus.split_counts = {split: per_fold for split in config.splits}
    return corpus
