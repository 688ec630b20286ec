"""Fake VocalImitationSet v1.1.3 zip.

Layout as the real zip: `VocalImitationSet/` with vocal_imitations/{included,excluded}/,
original_recordings/{reference,non_reference}/ and the metadata files, vocal_imitations.txt being
tab-separated with an unnamed index column first. Four reference sounds (the labels) with four
included imitations each (16 clips, so each of the 3 folds can hold every label) and four
excluded takes (two drafts, a training take, a rejected imitation) that the TSV lists with
included=False. Names hold spaces, `_ ` for commas as in the real set, and, beyond it, one literal
comma and parentheses to stress the pipeline. Native rates are mixed: 44.1 and 48 kHz mono 16-bit,
and one 96 kHz WAVE_FORMAT_EXTENSIBLE file (its header written by hand).

Small mode, like the real small zip, keeps the TSV whole but holds only 6 of the included WAVs (2
per fold, the 96 kHz one among them), 2 excluded ones and 2 reference recordings, so 10 included
rows point at absent files (dropped). The folds and spot checks below were computed once by
building, then declared. Scaled (fakes.Scale, full mode): n * 3 / 4 included imitations per
reference sound, of the scale's clip length.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pandas as pd
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

ROOT = "VocalImitationSet"
# (category prefix, category path d1..d4, class name) of each reference sound
REFERENCES = [
    ("000", ("Animal", "Domestic animals_ pets", "Cat", "Growling")),
    ("028", ("Animal", "Wild animals", "Roaring cats (lions_ tigers)", "Roar")),
    ("160", ("Sounds of things", "Alarm", "Telephone", "Busy signal")),
    ("231", ("Music", "Musical instrument", "Bowed string instrument", "Violin, fiddle")),
]
IMITATIONS_PER_REFERENCE = 4
# Excluded takes: (reference index, draft, training)
EXCLUDED = [(0, True, False), (2, True, False), (1, False, True), (3, False, False)]
# (reference index, take) of the included imitations the small zip keeps; (3, 0) is at 96 kHz.
SMALL_INCLUDED = [(0, 0), (0, 2), (1, 1), (2, 3), (3, 0), (3, 2)]
SMALL_EXCLUDED = [0, 2]
RATES = (44100, 48000)
HIGH_RATE_CLIP = (3, 0)
SATISFACTION = ("Mostly satisfied", "Somewhat satisfied", "Completely satisfied")
LABELS = [f"{prefix}{'_'.join(path)}_reference.wav" for prefix, path in REFERENCES]


def imitation_name(reference: int, serial: int) -> str:
    """`<prefix><d1>_..._<class>-<16-digit id>.wav`, the id derived from the take."""
    prefix, path = REFERENCES[reference]
    digits = 5004136221966336 + reference * 188598961111043 + serial * 7919
    return f"{prefix}{'_'.join(path)}-{digits}.wav"


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def tsv_rows(per_reference: int = IMITATIONS_PER_REFERENCE) -> list[dict]:
    """Every row of the fake vocal_imitations.txt: included takes first, then excluded ones."""
    rows = []
    takes = [
        (r, t, True, False, False) for r in range(len(REFERENCES)) for t in range(per_reference)
    ]
    takes += [
        (r, per_reference + i, False, draft, training)
        for i, (r, draft, training) in enumerate(EXCLUDED)
    ]
    for n, (reference, serial, included, draft, training) in enumerate(takes):
        prefix, path = REFERENCES[reference]
        name = imitation_name(reference, serial)
        rows.append(
            {
                "imitation_id": name.rsplit("-", 1)[1][:-4],
                "imitation_filename": name,
                "category_id": int(prefix),
                **{f"category_d{d}": (path + ("",) * 2)[d - 1] for d in range(1, 7)},
                "reference_filename": LABELS[reference],
                "included": included,
                "draft": draft,
                "training": training,
                "participant_id": f"A{n % 5 + 1:02d}F3K",
                "satisfaction": SATISFACTION[n % 3],
                "participants_sound_recording_description": (
                    'a cat, "growling" softly' if n == 0 else f"{path[-1].lower()} sound"
                ),
                "participants_sound_recording_description_confidence": "Confident",
            }
        )
    return rows


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake zip for every source of `config` under `mirror_root`."""
    scale = current_scale()
    per_reference = IMITATIONS_PER_REFERENCE
    if scale is not None:
        per_reference = scale.per_group(len(REFERENCES), len(config.splits))
    rows = tsv_rows(per_reference)
    included = [row["imitation_filename"] for row in rows if row["included"]]
    excluded = [row["imitation_filename"] for row in rows if not row["included"]]
    if config.is_small:
        included = [imitation_name(r, t) for r, t in SMALL_INCLUDED]
        excluded = [excluded[i] for i in SMALL_EXCLUDED]
    tsv = pd.DataFrame(rows).to_csv(sep="\t", lineterminator="\n")
    members = {f"{ROOT}/vocal_imitations.txt": tsv.encode()}
    members.update(_side_files())
    for folder, names in (("included", included), ("excluded", excluded)):
        for name in names:
            seconds = None if scale is None else scale.clip_seconds
            members[f"{ROOT}/vocal_imitations/{folder}/{name}"] = _imitation(name, seconds)
    originals = [f"reference/{label}" for label in LABELS[: 2 if config.is_small else None]]
    originals += [] if config.is_small else ["non_reference/161Sounds of things_Alarm_Siren.wav"]
    for name in originals:
        members[f"{ROOT}/original_recordings/{name}"] = wav_bytes(_voice(name, 1.0), 44100)
    md5 = {s.url: write_zip(mirror_location(mirror_root, s.url), members) for s in config.sources}
    by_name = {row["imitation_filename"]: row["reference_filename"] for row in rows}
    if scale is not None:
        return FakeCorpus(md5=md5, labels={by_name[name] for name in included})
    counts, spot_checks = _expected(config.mode)
    return FakeCorpus(
        md5=md5,
        split_counts=counts,
        labels={by_name[name] for name in included},
        spot_checks=spot_checks,
    )


def _expected(mode: str) -> tuple[dict[str, int], list[SpotCheck]]:
    """Split counts and spot checks of a mode, computed once by building."""

    def check(reference: int, take: int, fold: str) -> SpotCheck:
        return SpotCheck(Path(imitation_name(reference, take)).stem, fold, (LABELS[reference],))

    if mode == "small":  # (3, 0) is the 96 kHz file
        return {"fold00": 2, "fold01": 2, "fold02": 2}, [
            check(0, 0, "fold02"),
            check(0, 2, "fold00"),
            check(3, 0, "fold01"),
        ]
    return {"fold00": 6, "fold01": 5, "fold02": 5}, [
        check(0, 0, "fold02"),
        check(1, 0, "fold01"),
        check(2, 1, "fold00"),
        check(3, 2, "fold02"),
    ]


def _side_files() -> dict[str, bytes]:
    """The metadata files the recipe does not read, present as in the real archive."""
    classes = "filename\tclassname\tcategory_d1\tis_reference\n" + "".join(
        f"{label}\t{path[-1]}\t{path[0]}\tTrue\n" for label, (_, path) in zip(LABELS, REFERENCES)
    )
    texts = {
        "vocal_imitations_assessment.txt": "id\timitation_filename\treference_recording\trating\n",
        "original_recordings_classes.txt": classes,
        "original_recordings_license.csv": "filename,username,user_url,file_url,freesound_id\n",
        "participant_survey.csv": "participant_id,age,gender\nA01F3K,30,female\n",
        "duplicates.csv": "Filename,Category\n",
    }
    return {f"{ROOT}/{name}": text.encode() for name, text in texts.items()}


def _imitation(name: str, seconds: float | None = None) -> bytes:
    """WAV bytes of a take: 0.3-3 s (or `seconds`) at 44.1 or 48 kHz, or the 96 kHz extensible
    file."""
    rng = seeded_rng(name)
    drawn = rng.uniform(0.3, 3.0)
    seconds = drawn if seconds is None else seconds
    if name == imitation_name(*HIGH_RATE_CLIP):
        return wave_format_extensible_bytes(_voice(name, seconds, 96000), 96000)
    sr = RATES[int(rng.integers(len(RATES)))]
    return wav_bytes(_voice(name, seconds, sr), sr)


def _voice(name: str, seconds: float, sr: int = 44100) -> np.ndarray:
    """A hummed glide with breath noise, faded in and out."""
    rng = seeded_rng(f"voice:{name}")
    t = np.arange(round(seconds * sr)) / sr
    f0 = rng.uniform(120, 300) * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    signal = np.sin(phase) + 0.4 * np.sin(2 * phase) + rng.normal(0, 0.1, t.size)
    return 0.3 * signal * np.hanning(t.size)


def wave_format_extensible_bytes(samples: np.ndarray, sr: int) -> bytes:
    """Mono 16-bit PCM WAV with a WAVE_FORMAT_EXTENSIBLE (0xFFFE) fmt chunk, as some real files."""
    data = (np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")).tobytes()
    pcm_guid = bytes.fromhex("0100000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, sr, sr * 2, 2, 16, 22, 16, 0x4) + pcm_guid
    buf = io.BytesIO()
    buf.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
    buf.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    buf.write(b"data" + struct.pack("<I", len(data)) + data)
    return buf.getvalue()
