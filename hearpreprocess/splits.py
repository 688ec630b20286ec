"""Metadata normalisation, split creation, event trimming and mode caps (the rules: docs/tasks.md).

Every seed and rounding rule is HEAR 2021's, so a corpus yields the same splits as HEAR 2021 did.
Functions never mutate their input. Those that drop or change rows return `(df, report)`, where
`report` holds the affected input rows plus `action` ("dropped", "clipped", "emptied") and
`reason` columns, so the caller can log and publish what was lost (nothing silent).

The pandas shuffles are done with numpy's legacy `RandomState(seed).permutation`, which is exactly
what `DataFrame.sample(frac=1, random_state=seed)` does, without depending on pandas internals.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from hearcore.format import TVT_SPLITS, fold_name

DEFAULT_SPLIT_PERCENTAGE = {"train": 80, "valid": 10, "test": 10}
KFOLD_SEEDS = ["split_k_folds"] + [f"split_k_folds_retry_{i}" for i in range(999)]
REPORT_COLUMNS = ("action", "reason")
# Why small mode drops a row: the small archives keep metadata whole but hold a few clips.
MISSING_IN_SMALL = "audio file missing (small mode)"
_MAX_LISTED = 20


class SplitError(ValueError):
    """Metadata cannot be split as the task asks; the message names the offending rows."""


def str2int(s: str) -> int:
    """HEAR 2021's string seed: sha1 of `s` as an integer, modulo 2**32 - 1."""
    return int(hashlib.sha1(s.encode("utf-8")).hexdigest(), 16) % (2**32 - 1)


def _shuffle(df: pd.DataFrame, seed_name: str) -> pd.DataFrame:
    order = np.random.RandomState(str2int(seed_name)).permutation(len(df))
    return df.iloc[order].reset_index(drop=True)


def _listing(values: Any) -> str:
    values = list(values)
    head = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    more = f" ... and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else ""
    return f"{head}{more}"


def _report(rows: pd.DataFrame, action: str, reason: str | pd.Series) -> pd.DataFrame:
    rows = rows.copy()
    rows["action"] = action
    rows["reason"] = reason
    return rows


def empty_report(df: pd.DataFrame) -> pd.DataFrame:
    """A report frame with no rows and the columns of `df` plus action/reason."""
    return _report(df.iloc[0:0], "dropped", "")


def _is_event(df: pd.DataFrame) -> bool:
    return "start" in df.columns and "end" in df.columns


def prepare_metadata(
    df: pd.DataFrame, small: bool, exists: Callable[[str], bool] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add default stems and split keys, validate, sort and shuffle deterministically.

    Args:
        df: the recipe's rows (`relpath`, `label`, `split`[, `start`, `end`, ...]). A recipe that
            must leave rows out by a corpus rule (e.g. clips known to be mislabelled) keeps them
            and gives a non-empty `drop_reason`: they are dropped first and reported with it.
        small: small mode, where rows whose file is missing are dropped rather than an error.
        exists: whether the audio file of a relpath exists (default: on disk; the pipeline also
            accepts members of an archive not extracted yet).

    Returns:
        (metadata, report): the shuffled frame (fresh RangeIndex) and the dropped rows.

    Raises:
        SplitError: a stem contains "/" or stems and relpaths do not map 1:1.
        FileNotFoundError: referenced files are missing (not small mode).
    """
    df, by_rule = _drop_by_rule(df)
    default_stems = df["relpath"].map(lambda p: Path(p).stem)
    if "unique_filestem" not in df.columns:
        df["unique_filestem"] = default_stems
    else:
        df["unique_filestem"] = df["unique_filestem"].where(
            df["unique_filestem"].notna(), default_stems
        )
    if "split_key" not in df.columns:
        df["split_key"] = df["unique_filestem"]
    else:
        df["split_key"] = df["split_key"].where(df["split_key"].notna(), df["unique_filestem"])
    _check_stems(df)

    sort_by = (
        ["unique_filestem", "start", "end", "label"]
        if _is_event(df)
        else ["unique_filestem", "label"]
    )
    df = df.sort_values(sort_by, kind="stable").reset_index(drop=True)
    df = _shuffle(df, "postprocess_all_metadata")

    # Checked after the shuffle, as HEAR 2021 did: dropping rows first would change the order.
    relpaths = pd.unique(df["relpath"])
    exists = exists or (lambda path: Path(path).exists())
    missing = sorted(str(p) for p in relpaths if not exists(str(p)))
    is_missing = df["relpath"].astype(str).isin(missing)
    if missing and not small:
        raise FileNotFoundError(
            f"{len(missing)} audio files named in the metadata do not exist: {_listing(missing)}. "
            "Re-extract the corpus or fix the recipe."
        )
    report = _report(df[is_missing], "dropped", MISSING_IN_SMALL)
    report = pd.concat([by_rule, report], ignore_index=True) if len(by_rule) else report
    return df[~is_missing].reset_index(drop=True), report


def _drop_by_rule(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows the recipe marked with a `drop_reason`, split off before anything else (as HEAR 2021
    dropped them in the recipe, before its shuffle), and the report of them."""
    if "drop_reason" not in df.columns:
        return df.copy(), empty_report(df)
    reason = df["drop_reason"].fillna("").astype(str)
    marked = reason.str.strip() != ""
    dropped = df[marked].drop(columns="drop_reason")
    stems = dropped["relpath"].map(lambda p: Path(p).stem)
    if "unique_filestem" in dropped.columns:
        stems = dropped["unique_filestem"].where(dropped["unique_filestem"].notna(), stems)
    report = _report(dropped.assign(unique_filestem=stems), "dropped", reason[marked])
    return df[~marked].drop(columns="drop_reason").reset_index(drop=True), report


def _check_stems(df: pd.DataFrame) -> None:
    with_slash = sorted({s for s in df["unique_filestem"] if "/" in str(s)})
    if with_slash:
        raise SplitError(f"unique_filestem must not contain '/': {_listing(with_slash)}")
    # A clip is a file, or a segment of one (source_start/source_stop, e.g. speech_commands
    # _silence_ windows cut from one noise file): each clip needs its own stem.
    segment = [c for c in ("source_start", "source_stop") if c in df.columns]
    clips = df["relpath"].astype(str)
    for column in segment:  # NaN (whole file) must compare equal to itself here
        clips = clips + "|" + df[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
    pairs = pd.DataFrame({"unique_filestem": df["unique_filestem"], "relpath": clips})
    pairs = pairs.drop_duplicates()
    shared_stems = sorted(pairs.loc[pairs["unique_filestem"].duplicated(), "unique_filestem"])
    if shared_stems:
        raise SplitError(
            f"unique_filestem names more than one file: {_listing(shared_stems)}. "
            "Give the recipe a unique_filestem that tells these files apart."
        )
    shared_paths = sorted(str(p) for p in pairs.loc[pairs["relpath"].duplicated(), "relpath"])
    if shared_paths:
        raise SplitError(f"a clip has more than one unique_filestem: {_listing(shared_paths)}")


def create_splits(df: pd.DataFrame, config: Any) -> pd.DataFrame:
    """Assign every row its final split (or fold) following `config.split_mode`.

    Args:
        df: output of `prepare_metadata`.
        config: a TaskConfig, or any object with `split_mode`, `splits`, `nfolds`, `is_small`,
            `embedding_type`, `prediction_type` and `split_percentage`.

    Returns:
        A new frame with the `split` column set; no row is dropped.

    Raises:
        SplitError: bad split names, no valid fold assignment, a stem in two splits, or a
            multiclass scene file with other than one label row.
    """
    if config.split_mode == "trainvaltest":
        out = _split_train_valid_test(df, config.split_percentage)
    elif config.split_mode == "new_split_kfold":
        out = _split_k_folds(df, config)
    elif config.split_mode == "presplit_kfold":
        out = df.copy()
        _check_split_names(out, config.splits)
    else:
        raise SplitError(f"unknown split_mode {config.split_mode!r}")
    _check_one_split_per_stem(out)
    if config.embedding_type == "scene" and config.prediction_type == "multiclass":
        counts = out.groupby("unique_filestem", sort=True).size()
        offenders = list(counts.index[counts != 1])
        if offenders:
            raise SplitError(
                f"multiclass scene task: these files have more than one label row: "
                f"{_listing(offenders)}. Make the recipe emit one label per file."
            )
    return out


def _check_split_names(df: pd.DataFrame, splits: list[str]) -> None:
    present = set(df["split"])
    if present != set(splits):
        raise SplitError(
            f"presplit_kfold: the recipe's split names {sorted(map(str, present))} must equal "
            f"the configured splits {sorted(splits)}"
        )


def _split_train_valid_test(df: pd.DataFrame, split_percentage: dict | None) -> pd.DataFrame:
    present = set(df["split"])
    unknown = present - set(TVT_SPLITS)
    if unknown:
        raise SplitError(f"trainvaltest: unknown split names {sorted(map(str, unknown))}")
    if "train" not in present:
        raise SplitError("trainvaltest: the recipe must provide at least a 'train' split")
    out = df.copy()
    to_make = [s for s in ("valid", "test") if s not in present]
    if not to_make:
        return out
    percentage = {**DEFAULT_SPLIT_PERCENTAGE, **(split_percentage or {})}
    # Renormalise over train and the splits being carved out of it: a missing valid alone
    # gives valid 10 / (80 + 10) = 11.1% of train.
    total = percentage["train"] + sum(percentage[s] for s in to_make)
    is_train = out["split"] == "train"
    keys = sorted(pd.unique(out.loc[is_train, "split_key"]))
    random.Random("split_train_test_val").shuffle(keys)
    n_valid = (
        round(len(keys) * (percentage["valid"] / total * 100) / 100) if "valid" in to_make else 0
    )
    n_test = round(len(keys) * (percentage["test"] / total * 100) / 100) if "test" in to_make else 0
    if n_valid + n_test > len(keys):
        raise SplitError(f"trainvaltest: {len(keys)} train keys are too few for {to_make}")
    valid_keys, test_keys = set(keys[:n_valid]), set(keys[n_valid : n_valid + n_test])
    out.loc[is_train & out["split_key"].isin(valid_keys), "split"] = "valid"
    out.loc[is_train & out["split_key"].isin(test_keys), "split"] = "test"
    return out


def _split_k_folds(df: pd.DataFrame, config: Any) -> pd.DataFrame:
    nfolds = int(config.nfolds or 0)
    keys = sorted(pd.unique(df["split_key"]))
    if nfolds < 2 or nfolds > len(keys):
        raise SplitError(f"new_split_kfold: cannot make {nfolds} folds from {len(keys)} split keys")
    labelled = df[df["label"].notna()]
    labels_by_key = labelled.groupby("split_key", sort=False)["label"].agg(set).to_dict()
    all_labels = set(labelled["label"])
    check = not (
        config.is_small
        or (config.embedding_type == "event" and config.prediction_type == "multilabel")
    )
    for seed in KFOLD_SEEDS:
        shuffled = list(keys)
        random.Random(seed).shuffle(shuffled)
        folds = [
            [shuffled[i] for i in chunk] for chunk in np.array_split(np.arange(len(keys)), nfolds)
        ]
        if not check or all(
            set().union(*(labels_by_key.get(k, set()) for k in fold)) == all_labels
            for fold in folds
        ):
            break
    else:
        raise SplitError(
            f"new_split_kfold: no seed out of {len(KFOLD_SEEDS)} puts every label in each of "
            f"{nfolds} folds; use fewer folds or check for rare labels"
        )
    fold_of_key = {key: fold_name(j) for j, fold in enumerate(folds) for key in fold}
    out = df.copy()
    out["split"] = out["split_key"].map(fold_of_key).astype(object)
    return out


def _check_one_split_per_stem(df: pd.DataFrame) -> None:
    n_splits = df.groupby("unique_filestem", sort=True)["split"].nunique()
    offenders = list(n_splits.index[n_splits > 1])
    if offenders:
        raise SplitError(f"these files lie in more than one split: {_listing(offenders)}")


def trim_events(
    df: pd.DataFrame, sample_duration: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop events starting at or after the clip end and clip event ends to it.

    No file is lost: a file whose events all start after the cut is kept as one row with
    label, start and end set to missing (a clip with no events; `hearcore.bundle.split_json`
    writes it as an empty list). HEAR 2021 asserted this never happened; keeping the clip as a
    negative example loses nothing and is listed in the report as "emptied".

    Args:
        df: event metadata (`start`, `end` in ms).
        sample_duration: clip length in seconds; None keeps everything.

    Returns:
        (events, report): the trimmed frame in the same row order, and the dropped ("dropped"),
        clipped ("clipped") and emptied-file ("emptied") rows as they were before trimming.
    """
    out = df.copy()
    if sample_duration is None:
        return out, empty_report(df)
    limit = float(sample_duration) * 1000.0
    dropped = out["start"] >= limit
    clipped = ~dropped & (out["end"] > limit)
    kept_stems = set(out.loc[~dropped, "unique_filestem"])
    emptied = dropped & ~out["unique_filestem"].isin(kept_stems)
    emptied &= ~out["unique_filestem"].duplicated()
    report = pd.concat(
        [
            _report(df[dropped], "dropped", f"event starts at or after {limit:g} ms"),
            _report(df[clipped], "clipped", f"event end clipped to {limit:g} ms"),
            _report(df[emptied], "emptied", f"no event starts before {limit:g} ms; clip kept"),
        ]
    )
    out.loc[clipped, "end"] = limit
    if emptied.any():
        out["label"] = out["label"].astype(object)
        out.loc[emptied, ["label", "start", "end"]] = np.nan
        out["label"] = out["label"].where(out["label"].notna(), None)
    return out[~dropped | emptied].reset_index(drop=True), report


def subsample(df: pd.DataFrame, config: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the mode's per-split duration caps at file level.

    Args:
        df: split metadata.
        config: object with `split_mode`, `splits`, `sample_duration`,
            `max_task_duration_by_split` (trainvaltest) and `max_task_duration_by_fold` (k-fold).

    Returns:
        (metadata, report): the kept rows in their original order, and the dropped rows.
    """
    keep = pd.Series(True, index=df.index)
    reasons = pd.Series("", index=df.index, dtype=object)
    for split in sorted(pd.unique(df["split"])):
        cap = _cap(config, split)
        if cap is None:
            continue
        if not config.sample_duration:
            raise SplitError(f"split {split!r} has a duration cap but sample_duration is not set")
        max_files = int(cap / config.sample_duration)
        in_split = df["split"] == split
        pairs = df.loc[in_split, ["unique_filestem", "relpath"]].drop_duplicates()
        pairs = pairs.sort_values("unique_filestem", kind="stable").reset_index(drop=True)
        kept = set(_shuffle(pairs, f"SubsampleSplit({split})")["unique_filestem"][:max_files])
        lost = in_split & ~df["unique_filestem"].isin(kept)
        keep &= ~lost
        reasons[lost] = f"over the {split} cap of {cap:g} s ({max_files} files)"
    report = _report(df[~keep], "dropped", reasons[~keep])
    return df[keep].reset_index(drop=True), report


def _cap(config: Any, split: str) -> float | None:
    if config.split_mode == "trainvaltest":
        caps = config.max_task_duration_by_split or {}
        return caps.get(split)
    return config.max_task_duration_by_fold
