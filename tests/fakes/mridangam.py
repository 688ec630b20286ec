"""Fake Mridangam Stroke v1.5 zip for mridangam_stroke and mridangam_tonic.

Layout as the real zip: `mridangam_stroke_1.5/<TONIC>/` folders (here B, C# and E), each with its
`_readme_and_license.txt` and WAVs named `<freesoundid>__akshaylaya__<stroke>-<tonic>-<NNN>.wav`
(`csh` for C#), 44.1 kHz mono 16-bit, 0.05-1.4 s (so some are padded and some trimmed to 0.81 s).

Full mode: 3 tonics x 3 strokes (bheem, cha, thom) x 3 takes = 27 clips, 9 per label, so that the
label-coverage retry of the 5-fold split can succeed (folds of 6/6/5/5/5). Small mode, like the
real small zip, holds a subset of the WAVs (8) with every readme; the retry is skipped there.
The folds and spot checks below were computed once by building each task, then declared.
Scaled (fakes.Scale, full mode): n * 5 / 9 takes of each tonic and stroke, of the scale's length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SR = 44100
ROOT = "mridangam_stroke_1.5"
TONICS = {"B": "b", "C#": "csh", "E": "e"}
STROKES = ("bheem", "cha", "thom")
TAKES = 3
# (tonic folder, stroke, take) of the clips the small zip keeps
SMALL = [
    ("B", "bheem", 1),
    ("B", "thom", 2),
    ("B", "cha", 3),
    ("C#", "cha", 1),
    ("C#", "bheem", 2),
    ("E", "thom", 1),
    ("E", "cha", 2),
    ("E", "bheem", 3),
]
README = (
    "Mridangam Stroke Dataset (fake copy for tests).\n"
    "Strokes played by akshaylaya; licensed CC BY 3.0.\n"
)

# task name -> mode -> (split counts, spot checks), computed once by building.
EXPECTED = {
    "mridangam_stroke": {
        "full": (
            {"fold00": 6, "fold01": 6, "fold02": 5, "fold03": 5, "fold04": 5},
            [
                SpotCheck("224030__akshaylaya__bheem-b-001", "fold03", ("bheem",)),
                SpotCheck("224047__akshaylaya__thom-csh-003", "fold02", ("thom",)),
                SpotCheck("224051__akshaylaya__cha-e-001", "fold01", ("cha",)),
            ],
        ),
        "small": (
            {"fold00": 2, "fold01": 2, "fold02": 2, "fold03": 1, "fold04": 1},
            [
                SpotCheck("224030__akshaylaya__bheem-b-001", "fold04", ("bheem",)),
                SpotCheck("224052__akshaylaya__cha-e-002", "fold00", ("cha",)),
                SpotCheck("224042__akshaylaya__cha-csh-001", "fold03", ("cha",)),
            ],
        ),
    },
    # Same files, other labels: the full folds differ (the retry seed depends on the labels);
    # the small ones do not (small mode takes the first seed).
    "mridangam_tonic": {
        "full": (
            {"fold00": 6, "fold01": 6, "fold02": 5, "fold03": 5, "fold04": 5},
            [
                SpotCheck("224030__akshaylaya__bheem-b-001", "fold04", ("b",)),
                SpotCheck("224041__akshaylaya__bheem-csh-003", "fold00", ("csh",)),
                SpotCheck("224053__akshaylaya__cha-e-003", "fold03", ("e",)),
            ],
        ),
        "small": (
            {"fold00": 2, "fold01": 2, "fold02": 2, "fold03": 1, "fold04": 1},
            [
                SpotCheck("224030__akshaylaya__bheem-b-001", "fold04", ("b",)),
                SpotCheck("224052__akshaylaya__cha-e-002", "fold00", ("e",)),
                SpotCheck("224042__akshaylaya__cha-csh-001", "fold03", ("csh",)),
            ],
        ),
    },
}


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def clips(takes: int = TAKES) -> list[tuple[str, str, int]]:
    """(tonic folder, stroke, take) of every clip of the full fake, in file-id order."""
    return [(t, s, k) for t in TONICS for s in STROKES for k in range(1, takes + 1)]


def member_name(tonic: str, stroke: str, take: int, takes: int = TAKES) -> str:
    """The zip member path of a clip; its freesound id follows from its place in `clips()`."""
    freesound_id = 224030 + clips(takes).index((tonic, stroke, take))
    return f"{ROOT}/{tonic}/{freesound_id}__akshaylaya__{stroke}-{TONICS[tonic]}-{take:03d}.wav"


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake zip for every source of `config` under `mirror_root`."""
    scale = current_scale()
    takes = TAKES
    if scale is not None:
        groups = len(TONICS) * len(STROKES)
        takes = scale.per_group(groups, len(config.splits))
    kept = SMALL if config.is_small else clips(takes)
    members = {f"{ROOT}/{tonic}/_readme_and_license.txt": README.encode() for tonic in TONICS}
    for n, (tonic, stroke_name, take) in enumerate(kept):
        name = (
            member_name(tonic, stroke_name, take)
            if scale is None
            else _scaled_name(n, tonic, stroke_name, take)
        )
        members[name] = wav_bytes(_stroke(name, None if scale is None else scale.clip_seconds), SR)
    md5 = {s.url: write_zip(mirror_location(mirror_root, s.url), members) for s in config.sources}
    stroke = config.recipe_params.get("label") == "stroke"
    labels = {name if stroke else TONICS[tonic] for tonic, name, _ in kept}
    if scale is not None:
        return FakeCorpus(md5=md5, labels=labels)
    counts, spot_checks = EXPECTED[config.task_name][config.mode]
    return FakeCorpus(md5=md5, split_counts=counts, labels=labels, spot_checks=spot_checks)


def _scaled_name(index: int, tonic: str, stroke: str, take: int) -> str:
    """member_name of a scaled fake's clip, by its place in clips() (not searched for: fast)."""
    return f"{ROOT}/{tonic}/{224030 + index}__akshaylaya__{stroke}-{TONICS[tonic]}-{take:03d}.wav"


def _stroke(name: str, seconds: float | None = None) -> np.ndarray:
    """A struck-membrane sound: a decaying partial plus a short noisy attack; 0.05-1.4 s, or
    `seconds`."""
    rng = seeded_rng(name)
    n = round((rng.uniform(0.05, 1.4) if seconds is None else seconds) * SR)
    t = np.arange(n) / SR
    tone = np.sin(2 * np.pi * rng.uniform(120, 600) * t) * np.exp(-t * rng.uniform(3, 12))
    attack = rng.normal(0, 1, n) * np.exp(-t * 200)
    return 0.5 * tone + 0.2 * attack
