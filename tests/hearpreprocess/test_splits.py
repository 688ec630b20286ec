import random
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hearpreprocess.splits import (
    SplitError,
    create_splits,
    prepare_metadata,
    str2int,
    subsample,
    trim_events,
)


def _config(**overrides):
    values = dict(
        split_mode="trainvaltest",
        nfolds=None,
        is_small=False,
        embedding_type="scene",
        prediction_type="multiclass",
        split_percentage=None,
        max_task_duration_by_split=None,
        max_task_duration_by_fold=None,
        sample_duration=1.0,
    )
    values.update(overrides)
    if values["split_mode"] == "trainvaltest":
        values["splits"] = ["train", "valid", "test"]
    else:
        values["splits"] = [f"fold{i:02d}" for i in range(values["nfolds"])]
    return SimpleNamespace(**values)


def _scene_frame(tmp_path, n, n_labels=4, split="train", create=True):
    rows = []
    for i in range(n):
        path = tmp_path / f"clip{i:03d}.wav"
        if create:
            path.write_bytes(b"")
        rows.append({"relpath": str(path), "label": f"l{i % n_labels}", "split": split})
    return pd.DataFrame(rows)


def test_string_seeds_are_the_integers_hear_2021_used():
    # sha1 of each seed name modulo 2**32 - 1, worked out with `sha1sum`, not with str2int.
    assert str2int("postprocess_all_metadata") == 2558623514
    assert str2int("SubsampleSplit(train)") == 3488948419
    assert str2int("SubsampleSplit(valid)") == 3511819133
    assert str2int("SubsampleSplit(test)") == 2920447107


def _keyed_frame(n, b_keys=()):
    keys = [f"k{i}" for i in range(n)]
    labels = ["b" if i in b_keys else "a" for i in range(n)]
    return pd.DataFrame(
        {"unique_filestem": keys, "split_key": keys, "label": labels, "split": "train"}
    )


def test_valid_and_test_are_carved_with_hear_2021s_seed():
    # random.Random("split_train_test_val") orders 10 sorted keys as 4, 8, 9, 5, ...: 10 % of 10
    # keys is one key each, valid first.
    out = create_splits(_keyed_frame(10), _config())
    assert out.set_index("split_key")["split"].to_dict() == {
        **{f"k{i}": "train" for i in range(10)},
        "k4": "valid",
        "k8": "test",
    }


def _folds(df):
    out = create_splits(df, _config(split_mode="new_split_kfold", nfolds=5))
    return out.groupby("split")["split_key"].agg(sorted).to_dict()


def test_folds_are_cut_with_hear_2021s_seeds():
    # random.Random("split_k_folds") orders 10 sorted keys as 5, 3, 7, 9, 2, 4, 1, 6, 8, 0, and
    # five folds take two each in that order.
    first = {"fold00": ["k3", "k5"], "fold01": ["k7", "k9"], "fold02": ["k2", "k4"]}
    first.update({"fold03": ["k1", "k6"], "fold04": ["k0", "k8"]})
    assert _folds(_keyed_frame(10)) == first
    # With label b on k0, k3, k4, k5, k9, that first cut leaves fold00 without an a; the next seed,
    # "split_k_folds_retry_0", orders them 3, 8, 4, 2, 6, 5, 9, 1, 0, 7: every fold has both.
    retry = {"fold00": ["k3", "k8"], "fold01": ["k2", "k4"], "fold02": ["k5", "k6"]}
    retry.update({"fold03": ["k1", "k9"], "fold04": ["k0", "k7"]})
    assert _folds(_keyed_frame(10, b_keys={0, 3, 4, 5, 9})) == retry


def test_prepare_metadata_defaults_sort_and_seeded_shuffle(tmp_path):
    df = _scene_frame(tmp_path, 30)
    shuffled_input = df.sample(frac=1, random_state=7)
    before = shuffled_input.copy()
    out, report = prepare_metadata(shuffled_input, small=False)
    pd.testing.assert_frame_equal(shuffled_input, before)  # input untouched
    assert report.empty
    assert list(out.index) == list(range(30))
    assert (out["unique_filestem"] == out["relpath"].map(lambda p: p.rsplit("/", 1)[1][:-4])).all()
    assert (out["split_key"] == out["unique_filestem"]).all()
    # Independent of the input order, and equal to HEAR 2021's sort + pandas sample.
    again, _ = prepare_metadata(df, small=False)
    pd.testing.assert_frame_equal(out, again)
    reference = df.assign(unique_filestem=again["unique_filestem"].sort_values().values)
    reference = reference.assign(split_key=reference["unique_filestem"])
    reference = reference.sort_values(["unique_filestem", "label"]).reset_index(drop=True)
    reference = reference.sample(frac=1, random_state=str2int("postprocess_all_metadata"))
    assert list(out["unique_filestem"]) == list(reference["unique_filestem"])


def test_prepare_metadata_keeps_given_stems_and_keys(tmp_path):
    df = _scene_frame(tmp_path, 4).assign(
        unique_filestem=["a", "b", "c", "d"], split_key=["g1", "g1", "g2", "g2"]
    )
    out, _ = prepare_metadata(df, small=False)
    assert dict(zip(out["unique_filestem"], out["split_key"])) == {
        "a": "g1",
        "b": "g1",
        "c": "g2",
        "d": "g2",
    }


def test_prepare_metadata_rejects_bad_stems(tmp_path):
    df = _scene_frame(tmp_path, 3)
    with pytest.raises(SplitError, match="'/'"):
        prepare_metadata(df.assign(unique_filestem=["a/b", "c", "d"]), small=False)
    with pytest.raises(SplitError, match="more than one file"):
        prepare_metadata(df.assign(unique_filestem=["a", "a", "d"]), small=False)
    two_stems = pd.concat([df, df.iloc[[0]]]).assign(unique_filestem=["a", "b", "c", "z"])
    with pytest.raises(SplitError, match="more than one unique_filestem"):
        prepare_metadata(two_stems, small=False)


def test_segments_of_one_file_are_separate_clips(tmp_path):
    # speech_commands cuts many _silence_ clips out of one noise file.
    df = _scene_frame(tmp_path, 1)
    segments = pd.concat([df] * 3).assign(
        unique_filestem=["s-0", "s-8000", "s-16000"], source_start=[0.0, 8000.0, 16000.0]
    )
    # Whole files carry NaN segment bounds beside the segments (speech_commands mixes both).
    (tmp_path / "other").mkdir()
    whole = _scene_frame(tmp_path / "other", 1).assign(unique_filestem="w", source_start=np.nan)
    segments = pd.concat([segments, whole])
    prepared, _ = prepare_metadata(segments, small=False)
    assert sorted(prepared["unique_filestem"]) == ["s-0", "s-16000", "s-8000", "w"]
    same_clip_two_stems = segments.assign(source_start=[0, 0, 16000, np.nan])
    with pytest.raises(SplitError, match="more than one unique_filestem"):
        prepare_metadata(same_clip_two_stems, small=False)


def test_missing_files_error_or_small_mode_drop(tmp_path):
    df = _scene_frame(tmp_path, 10)
    (tmp_path / "clip003.wav").unlink()
    (tmp_path / "clip007.wav").unlink()
    with pytest.raises(FileNotFoundError, match="clip003.wav"):
        prepare_metadata(df, small=False)
    out, report = prepare_metadata(df, small=True)
    assert len(out) == 8 and "clip003" not in set(out["unique_filestem"])
    assert sorted(report["unique_filestem"]) == ["clip003", "clip007"]
    assert set(report["action"]) == {"dropped"} and report["reason"].str.contains("missing").all()
    # Rows that survive keep the order of the full shuffle (dropping happens after it).
    full, _ = prepare_metadata(_scene_frame(tmp_path, 10, create=False), small=True)
    assert len(full) == 8


def test_event_rows_sorted_by_start_end_before_shuffle(tmp_path):
    path = tmp_path / "ev.wav"
    path.write_bytes(b"")
    df = pd.DataFrame(
        {
            "relpath": [str(path)] * 3,
            "label": ["b", "a", "c"],
            "start": [300.0, 100.0, 200.0],
            "end": [400.0, 500.0, 250.0],
            "split": "train",
        }
    )
    out, _ = prepare_metadata(df, small=False)
    expected = df.sort_values(["start", "end", "label"]).reset_index(drop=True)
    order = np.random.RandomState(str2int("postprocess_all_metadata")).permutation(3)
    assert list(out["label"]) == list(expected["label"].iloc[order])


def _prepared(tmp_path, n, **kwargs):
    return prepare_metadata(_scene_frame(tmp_path, n, **kwargs), small=False)[0]


def test_trainvaltest_counts_and_determinism(tmp_path):
    df = _prepared(tmp_path, 72)
    config = _config(split_percentage={"train": 60, "valid": 20, "test": 20})
    out = create_splits(df, config)
    assert out["split"].value_counts().to_dict() == {"train": 44, "valid": 14, "test": 14}
    pd.testing.assert_frame_equal(out, create_splits(df, config))
    assert set(df["split"]) == {"train"}  # input untouched
    keys = sorted(df["split_key"])
    random.Random("split_train_test_val").shuffle(keys)
    assert set(out.loc[out["split"] == "valid", "split_key"]) == set(keys[:14])
    assert set(out.loc[out["split"] == "test", "split_key"]) == set(keys[14:28])


def test_trainvaltest_defaults_and_renormalisation(tmp_path):
    df = _prepared(tmp_path, 90)
    counts = create_splits(df, _config())["split"].value_counts().to_dict()
    assert counts == {"train": 72, "valid": 9, "test": 9}
    with_test = df.copy()
    with_test.loc[with_test.index[:10], "split"] = "test"
    counts = create_splits(with_test, _config())["split"].value_counts().to_dict()
    # 80 keys; valid = 10 / (80 + 10) of them = 8.89 -> 9
    assert counts == {"train": 71, "valid": 9, "test": 10}
    complete = with_test.copy()
    complete.loc[complete.index[10:20], "split"] = "valid"
    pd.testing.assert_frame_equal(create_splits(complete, _config()), complete)


def test_trainvaltest_bad_split_names(tmp_path):
    df = _prepared(tmp_path, 5)
    with pytest.raises(SplitError, match="train"):
        create_splits(df.assign(split="valid"), _config())
    with pytest.raises(SplitError, match="unknown"):
        create_splits(df.assign(split="dev"), _config())


def test_split_keys_stay_together(tmp_path):
    df = _scene_frame(tmp_path, 40).assign(split_key=[f"spk{i // 4}" for i in range(40)])
    out = create_splits(
        prepare_metadata(df, small=False)[0], _config(split_mode="new_split_kfold", nfolds=5)
    )
    assert (out.groupby("split_key")["split"].nunique() == 1).all()
    assert out["split"].value_counts().to_dict() == {f"fold{i:02d}": 8 for i in range(5)}


def test_kfold_retries_until_every_fold_has_every_label(tmp_path):
    # Two rare labels, 3 files each, 3 folds: the first seed rarely covers them.
    df = _scene_frame(tmp_path, 30, n_labels=1)
    df.loc[[0, 1, 2], "label"] = "rare1"
    df.loc[[3, 4, 5], "label"] = "rare2"
    df = prepare_metadata(df, small=False)[0]
    config = _config(split_mode="new_split_kfold", nfolds=3)
    out = create_splits(df, config)
    for fold in config.splits:
        assert set(out.loc[out["split"] == fold, "label"]) == {"l0", "rare1", "rare2"}
    keys = sorted(df["split_key"])
    random.Random("split_k_folds").shuffle(keys)
    first = [set(df.loc[df["split_key"].isin(c), "label"]) for c in np.array_split(keys, 3)]
    small = create_splits(df, _config(split_mode="new_split_kfold", nfolds=3, is_small=True))
    small_folds = [set(small.loc[small["split"] == f, "label"]) for f in config.splits]
    assert small_folds == first  # small mode takes the first seed unchecked
    assert any(len(labels) < 3 for labels in first)  # so the check had to retry
    assert not out["split"].equals(small["split"])


def test_kfold_no_seed_works(tmp_path):
    df = _scene_frame(tmp_path, 12, n_labels=1)
    df.loc[0, "label"] = "unique"
    df = prepare_metadata(df, small=False)[0]
    with pytest.raises(SplitError, match="no seed"):
        create_splits(df, _config(split_mode="new_split_kfold", nfolds=3))
    multilabel_event = _config(
        split_mode="new_split_kfold", nfolds=3, embedding_type="event", prediction_type="multilabel"
    )
    assert create_splits(df, multilabel_event)["split"].nunique() == 3
    with pytest.raises(SplitError, match="folds"):
        create_splits(df, _config(split_mode="new_split_kfold", nfolds=13))


def test_kfold_array_split_sizes(tmp_path):
    df = _prepared(tmp_path, 23)
    out = create_splits(df, _config(split_mode="new_split_kfold", nfolds=5, is_small=True))
    assert out.groupby("split").size().tolist() == [5, 5, 5, 4, 4]


def test_presplit_kfold_validates_names(tmp_path):
    df = _prepared(tmp_path, 9)
    df["split"] = [f"fold{i % 3:02d}" for i in range(9)]
    config = _config(split_mode="presplit_kfold", nfolds=3)
    pd.testing.assert_frame_equal(create_splits(df, config), df)
    with pytest.raises(SplitError, match="fold03"):
        create_splits(df, _config(split_mode="presplit_kfold", nfolds=4))
    with pytest.raises(SplitError, match="unknown split_mode"):
        create_splits(df, SimpleNamespace(**{**vars(config), "split_mode": "random"}))


def test_stem_in_two_splits_and_multiclass_checks(tmp_path):
    df = _prepared(tmp_path, 6)
    doubled = pd.concat([df, df.iloc[[0]].assign(label="other")]).reset_index(drop=True)
    doubled.loc[doubled.index[2:4], "split"] = "valid"
    doubled.loc[doubled.index[4:], "split"] = "test"  # the extra row of train file 0 too
    with pytest.raises(SplitError, match="more than one split"):
        create_splits(doubled, _config(prediction_type="multilabel"))
    two_labels = pd.concat([df, df.iloc[[0]].assign(label="other")]).reset_index(drop=True)
    with pytest.raises(SplitError, match="one label"):
        create_splits(two_labels, _config())
    multilabel = create_splits(two_labels, _config(prediction_type="multilabel"))
    assert len(multilabel) == 7


def _events():
    return pd.DataFrame(
        {
            "unique_filestem": ["a", "a", "b", "a", "c", "c"],
            "relpath": ["a.wav", "a.wav", "b.wav", "a.wav", "c.wav", "c.wav"],
            "label": ["x", "y", "x", "z", "y", "x"],
            "start": [100.0, 1500.0, 200.0, 900.0, 2000.0, 3000.0],
            "end": [500.0, 1800.0, 1200.0, 2500.0, 2100.0, 3100.0],
            "split": "train",
        }
    )


def test_trim_events_drops_clips_and_keeps_every_file():
    df = _events()
    before = df.copy()
    out, report = trim_events(df, 1.0)
    pd.testing.assert_frame_equal(df, before)
    assert list(out["unique_filestem"]) == ["a", "b", "a", "c"]  # row order kept
    assert list(out["end"][:3]) == [500.0, 1000.0, 1000.0]
    assert out["label"][:3].tolist() == ["x", "x", "z"]
    assert out["label"].iloc[3] is None and np.isnan(out["start"].iloc[3])
    assert set(out["unique_filestem"]) == set(df["unique_filestem"])
    counts = report["action"].value_counts().to_dict()
    assert counts == {"dropped": 3, "clipped": 2, "emptied": 1}
    assert report.loc[report["action"] == "clipped", "end"].tolist() == [1200.0, 2500.0]
    unchanged, empty = trim_events(df, None)
    pd.testing.assert_frame_equal(unchanged, df)
    assert empty.empty and {"action", "reason"} <= set(empty.columns)


def test_subsample_caps_per_split():
    stems = [f"s{i:02d}" for i in range(20)]
    df = pd.DataFrame(
        {
            "unique_filestem": stems + stems[:5],
            "relpath": [f"/{s}.wav" for s in stems + stems[:5]],
            "label": ["a"] * 25,
            "split": ["train"] * 10 + ["valid"] * 10 + ["train"] * 5,
        }
    )
    config = _config(sample_duration=2.0, max_task_duration_by_split={"train": 9.0, "valid": None})
    out, report = subsample(df, config)
    train = out[out["split"] == "train"]
    assert train["unique_filestem"].nunique() == 4  # int(9 / 2)
    assert (out["split"] == "valid").sum() == 10
    pairs = df[df["split"] == "train"][["unique_filestem", "relpath"]].drop_duplicates()
    pairs = pairs.sort_values("unique_filestem")
    expected = pairs.sample(frac=1, random_state=str2int("SubsampleSplit(train)"))
    assert set(train["unique_filestem"]) == set(expected["unique_filestem"][:4])
    assert len(report) == len(df) - len(out) and report["reason"].str.contains("cap").all()
    kept_rows = df[df["unique_filestem"].isin(set(out["unique_filestem"]))]
    assert list(out["unique_filestem"]) == list(kept_rows["unique_filestem"])  # order kept
    again, _ = subsample(df.sample(frac=1, random_state=3), config)
    assert set(again["unique_filestem"]) == set(out["unique_filestem"])


def test_subsample_kfold_cap_and_no_cap():
    df = pd.DataFrame(
        {
            "unique_filestem": [f"s{i}" for i in range(12)],
            "relpath": [f"/s{i}.wav" for i in range(12)],
            "label": "a",
            "split": [f"fold{i % 3:02d}" for i in range(12)],
        }
    )
    capped, _ = subsample(
        df, _config(split_mode="new_split_kfold", nfolds=3, max_task_duration_by_fold=2.5)
    )
    assert capped.groupby("split").size().tolist() == [2, 2, 2]
    uncapped, report = subsample(df, _config(split_mode="new_split_kfold", nfolds=3))
    pd.testing.assert_frame_equal(uncapped, df)
    assert report.empty
    with pytest.raises(SplitError, match="sample_duration"):
        subsample(
            df,
            _config(
                split_mode="new_split_kfold",
                nfolds=3,
                max_task_duration_by_fold=2.0,
                sample_duration=None,
            ),
        )


def test_rows_the_recipe_drops_by_rule_are_reported_and_do_not_move_the_shuffle(tmp_path):
    paths = []
    for name in ("a", "b", "c", "d"):
        path = tmp_path / f"{name}.wav"
        path.write_bytes(b"")
        paths.append(str(path))
    rows = pd.DataFrame({"relpath": paths, "label": ["x", "y", "x", "y"], "split": "train"})
    marked = rows.assign(drop_reason=["", "clip longer than 30 s (metadata wrong)", "", ""])
    kept, report = prepare_metadata(marked, small=False)
    assert "drop_reason" not in kept.columns and "b" not in set(kept["unique_filestem"])
    assert list(report["unique_filestem"]) == ["b"]
    assert list(report["action"]) == ["dropped"] and "30 s" in report["reason"].iloc[0]
    without, _ = prepare_metadata(rows.drop(index=1), small=False)
    assert list(kept["unique_filestem"]) == list(without["unique_filestem"])
