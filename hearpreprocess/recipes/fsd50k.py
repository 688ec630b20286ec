"""fsd50k: FSD50K, 51,197 Freesound clips tagged with 200 AudioSet classes.

The corpus: sound events from freesound.org, 0.3-30 s, 44.1 kHz 16-bit mono PCM WAV, labelled
with one or more classes of the AudioSet ontology (a clip's labels include their ancestors, e.g.
`Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music`). Its authors split
the dev set into train and val; eval is a separate, more carefully labelled set.

Raw layout (source key -> extracted folder):
    train/         FSD50K.dev_audio/<fname>.wav      40,966 clips (full: split zip .z01-.z05 + .zip)
    test/          FSD50K.eval_audio/<fname>.wav     10,231 clips (full: split zip .z01 + .zip)
    ground_truth/  FSD50K.ground_truth/dev.csv       fname,labels,mids,split (split: train / val)
                   FSD50K.ground_truth/eval.csv      fname,labels,mids
                   FSD50K.ground_truth/vocabulary.csv  index,label,mid (no header, 200 rows)

Rules: one row per (clip, label), labels = the `labels` cell split on ","; dev `train` -> train,
`val` -> valid, eval -> test; stem = fname (the default: the WAV's stem). Clips keep their own
length (the task has no sample_duration).

Quirks:
    * Twelve dev clips are 30 s or longer although FSD50K's metadata says otherwise; HEAR 2021
      dropped them (11 train, 1 val). They are kept here with a `drop_reason`, so the pipeline
      drops them and lists them in report.json. All twelve must be in dev.csv.
    * HEAR 2021 joined the uploader from FSD50K.metadata.zip as split key; it is never used (all
      three splits exist), so that download is left out and the split key is the stem.
    * The small ground-truth zip keeps the CSVs whole while the small audio zips hold 40 clips
      each, trimmed to 1 s or shorter; small mode drops the rows of absent clips.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

GROUND_TRUTH = "FSD50K.ground_truth"
AUDIO_DIRS = {"train": "FSD50K.dev_audio", "test": "FSD50K.eval_audio"}
DEV_SPLITS = {"train": "train", "val": "valid"}
# Dev clips whose real length is >= 30 s (FSD50K's metadata is wrong about them).
OVERLONG = (
    "83299", "83298", "121426", "121351", "121472", "121471",
    "124796", "397150", "124797", "124800", "124834", "124858",
)  # fmt: skip
OVERLONG_REASON = "real length >= 30 s; FSD50K's metadata is wrong"


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per (clip, label) of dev.csv and eval.csv; the twelve over-long dev clips carry a
    `drop_reason`, so the pipeline drops and reports them."""
    truth = Path(sources["ground_truth"]) / GROUND_TRUTH
    vocabulary = _read_vocabulary(truth / "vocabulary.csv", config)
    dev = _read_csv(truth / "dev.csv", ("fname", "labels", "split"), config)
    bad = ~dev["split"].isin(list(DEV_SPLITS))
    if bad.any():
        raise ValueError(
            f"task {config.task_name}: {truth / 'dev.csv'} has split {dev['split'][bad].iloc[0]!r} "
            f"(row {int(bad.idxmax()) + 2}); expected one of {sorted(DEV_SPLITS)}"
        )
    missing = [fname for fname in OVERLONG if fname not in set(dev["fname"])]
    if missing:
        raise ValueError(
            f"task {config.task_name}: {truth / 'dev.csv'} lacks the over-long clips {missing} "
            "that the recipe must drop; it is not FSD50K v1.0's dev.csv (check the ground-truth "
            "zip's md5)"
        )
    eval_ = _read_csv(truth / "eval.csv", ("fname", "labels"), config)
    frames = [
        _rows(dev, Path(sources["train"]) / AUDIO_DIRS["train"], dev["split"].map(DEV_SPLITS)),
        _rows(eval_, Path(sources["test"]) / AUDIO_DIRS["test"], "test"),
    ]
    df = pd.concat(frames, ignore_index=True)
    unknown = sorted(set(df["label"]) - vocabulary)
    if unknown:
        raise ValueError(
            f"task {config.task_name}: dev.csv/eval.csv in {truth} use labels missing from "
            f"vocabulary.csv: {unknown[:5]}; the ground-truth files do not belong together"
        )
    df["drop_reason"] = df["unique_filestem"].isin(OVERLONG).map({True: OVERLONG_REASON, False: ""})
    return df


def split_labels(cell: str) -> list[str]:
    """The labels of a clip from its `labels` cell: comma-separated class names."""
    return cell.split(",")


def _rows(meta: pd.DataFrame, audio: Path, split) -> pd.DataFrame:
    clips = pd.DataFrame(
        {
            "relpath": [str(audio / f"{fname}.wav") for fname in meta["fname"]],
            "label": meta["labels"].map(split_labels),
            "split": split,
            "unique_filestem": meta["fname"],
        }
    )
    return clips.explode("label", ignore_index=True)


def _read_csv(path: Path, columns: tuple[str, ...], config: TaskConfig) -> pd.DataFrame:
    meta = _read(path, config, dtype=str, keep_default_na=False)
    lacking = [c for c in columns if c not in meta.columns]
    if lacking:
        raise ValueError(f"task {config.task_name}: {path} lacks the columns {lacking}")
    empty = (meta["fname"] == "") | meta["labels"].map(lambda s: "" in split_labels(s))
    if empty.any():
        raise ValueError(
            f"task {config.task_name}: {path} row {int(empty.idxmax()) + 2} has an empty fname "
            "or label; the file is damaged (check the ground-truth zip's md5)"
        )
    duplicated = meta["fname"].duplicated()
    if duplicated.any():
        raise ValueError(
            f"task {config.task_name}: {path} lists clip {meta['fname'][duplicated].iloc[0]!r} "
            "twice; the file is damaged (check the ground-truth zip's md5)"
        )
    return meta


def _read_vocabulary(path: Path, config: TaskConfig) -> set[str]:
    vocabulary = _read(path, config, header=None, dtype=str, keep_default_na=False)
    if vocabulary.shape[1] != 3:
        raise ValueError(
            f"task {config.task_name}: {path} must have three columns (index,label,mid) and no "
            f"header, not {vocabulary.shape[1]}"
        )
    return set(vocabulary[1])


def _read(path: Path, config: TaskConfig, **options) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the ground-truth zip must contain it "
            "(re-extract the archive or check its md5)"
        )
    try:
        return pd.read_csv(path, **options)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"task {config.task_name}: {path} does not parse: {e}") from e
