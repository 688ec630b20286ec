"""vocal_imitation recipe on its fake corpus (full and small) and its join and parse errors.

The real small zip is not in ../shared/corpora yet; its test skips, naming the file it needs.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
from fakes import extract_sources, mirror_location, unpack_fake
from fakes.vocal_imitation import LABELS, imitation_name, tsv_rows
from shared_corpora import CORPORA

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.vocal_imitation import extract_metadata
from hearpreprocess.splits import create_splits, prepare_metadata

TASK = "vocal_imitation"
ROOT = "VocalImitationSet"


def _build(mode: str, root: Path):
    config = load_task_config(TASK, mode)
    corpus, sources = unpack_fake(root, config)
    return config, corpus, extract_metadata(sources, config), sources


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    return _build(request.param, tmp_path_factory.mktemp(f"fake-{request.param}"))


@pytest.fixture(scope="module")
def full_fake_folder(tmp_path_factory) -> Path:
    return _build("full", tmp_path_factory.mktemp("fake-full-pristine"))[3]["train"]


@pytest.fixture
def corpus_copy(full_fake_folder, tmp_path):
    """A writable copy of the extracted full fake, to break: (config, VocalImitationSet/)."""
    shutil.copytree(full_fake_folder, tmp_path / "train")
    return load_task_config(TASK, "full"), tmp_path / "train" / ROOT


def test_fake_rows_are_the_included_tsv_rows(fake):
    config, corpus, df, sources = fake
    assert list(df.columns) == ["relpath", "label", "split"]
    assert len(df) == 16  # the TSV is whole in both modes
    included = sources["train"] / ROOT / "vocal_imitations" / "included"
    assert df["relpath"].map(lambda p: Path(p).parent == included).all()
    assert set(df["split"]) == {"train"}
    assert set(df["label"]) == set(LABELS)
    exists = df["relpath"].map(lambda p: Path(p).is_file())
    assert exists.sum() == sum(corpus.split_counts.values()) == (6 if config.is_small else 16)
    assert set(df.loc[exists, "label"]) == corpus.labels
    excluded = {r["imitation_filename"] for r in tsv_rows() if not r["included"]}
    assert not df["relpath"].map(lambda p: Path(p).name in excluded).any()


def test_names_with_spaces_commas_and_parentheses_are_kept_verbatim(fake):
    _, _, df, _ = fake
    name = imitation_name(3, 2)
    assert ", fiddle-" in name
    row = df[df["relpath"].str.endswith("/" + name)].iloc[0]
    assert row["label"] == (
        "231Music_Musical instrument_Bowed string instrument_Violin, fiddle_reference.wav"
    )
    roar = df[df["relpath"].str.endswith("/" + imitation_name(1, 0))].iloc[0]
    assert roar["label"] == "028Animal_Wild animals_Roaring cats (lions_ tigers)_Roar_reference.wav"


def test_fake_has_mixed_rates_and_an_extensible_96k_file(fake):
    config, _, df, _ = fake
    infos = [sf.info(p) for p in df["relpath"] if Path(p).is_file()]
    assert {i.samplerate for i in infos} == {44100, 48000, 96000}
    assert [i.format for i in infos if i.samplerate == 96000] == ["WAVEX"]
    assert {(i.channels, i.subtype) for i in infos} == {(1, "PCM_16")}


def test_fake_folds_match_the_declared_ones(fake):
    config, corpus, df, _ = fake
    rows, dropped = prepare_metadata(df, config.is_small)
    rows = create_splits(rows, config)
    assert len(dropped) == (10 if config.is_small else 0)
    assert rows["split"].value_counts().to_dict() == corpus.split_counts
    if not config.is_small:  # every fold holds every label
        assert all(set(g["label"]) == corpus.labels for _, g in rows.groupby("split"))
    fold_of = dict(zip(rows["unique_filestem"], rows["split"]))
    label_of = dict(zip(rows["unique_filestem"], rows["label"]))
    for check in corpus.spot_checks:
        assert (fold_of[check.stem], (label_of[check.stem],)) == (check.split, check.labels)


def test_tsv_quoting_and_unnamed_index_column(corpus_copy):
    config, root = corpus_copy
    text = (root / "vocal_imitations.txt").read_text()
    assert text.startswith("\timitation_id\timitation_filename\t")
    assert '"a cat, ""growling"" softly"' in text  # written quoted, read back whole
    assert len(extract_metadata({"train": root.parent}, config)) == 16


def test_wav_without_an_included_row_is_a_clear_error(corpus_copy):
    config, root = corpus_copy
    stray = root / "vocal_imitations" / "included" / "999Stray sound_x-1.wav"
    stray.write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"vocal_imitation: 1 WAVs in .*included.*999Stray sound_x"
    ):
        extract_metadata({"train": root.parent}, config)


def test_wav_in_included_whose_row_is_excluded_is_a_clear_error(corpus_copy):
    config, root = corpus_copy
    draft = next(r["imitation_filename"] for r in tsv_rows() if r["draft"])
    shutil.copy(root / "vocal_imitations" / "excluded" / draft, root / "vocal_imitations/included")
    with pytest.raises(ValueError, match=r"have no included row.*" + draft[:10]):
        extract_metadata({"train": root.parent}, config)


def _rewrite_tsv(root: Path, edit) -> None:
    path = root / "vocal_imitations.txt"
    meta = pd.read_csv(path, sep="\t", index_col=0, dtype=str, keep_default_na=False)
    edit(meta).to_csv(path, sep="\t")


def test_included_row_listed_twice_is_a_clear_error(corpus_copy):
    config, root = corpus_copy
    _rewrite_tsv(root, lambda m: pd.concat([m, m.iloc[[0]]], ignore_index=True))
    with pytest.raises(ValueError, match=r"more than once: '000Animal"):
        extract_metadata({"train": root.parent}, config)


def test_same_file_name_twice_under_included_is_a_clear_error(corpus_copy):
    config, root = corpus_copy
    folder = root / "vocal_imitations" / "included"
    (folder / "sub").mkdir()
    shutil.copy(folder / imitation_name(0, 0), folder / "sub")
    with pytest.raises(ValueError, match=r"is in .*included twice"):
        extract_metadata({"train": root.parent}, config)


@pytest.mark.parametrize(
    "edit, why",
    [
        (
            lambda m: m.assign(included=["yes"] + list(m["included"][1:])),
            "line 2: included = 'yes'",
        ),
        (lambda m: m.drop(columns="reference_filename"), r"lacks the columns \['reference_f"),
        (lambda m: m.assign(reference_filename=""), "line 2: an included row needs both"),
    ],
)
def test_tsv_that_does_not_parse_is_a_clear_error(corpus_copy, edit, why):
    config, root = corpus_copy
    _rewrite_tsv(root, edit)
    with pytest.raises(ValueError, match=rf"vocal_imitation: .*vocal_imitations\.txt.*{why}"):
        extract_metadata({"train": root.parent}, config)


def test_lowercase_booleans_are_read(corpus_copy):
    config, root = corpus_copy
    _rewrite_tsv(root, lambda m: m.assign(included=m["included"].str.lower()))
    assert len(extract_metadata({"train": root.parent}, config)) == 16


def test_missing_tsv_or_folder_is_a_clear_error(corpus_copy):
    config, root = corpus_copy
    shutil.rmtree(root / "vocal_imitations")
    with pytest.raises(FileNotFoundError, match=r"vocal_imitation: .*vocal_imitations/included"):
        extract_metadata({"train": root.parent}, config)
    (root / "vocal_imitations.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"vocal_imitation: .*vocal_imitations\.txt"):
        extract_metadata({"train": root.parent}, config)


def test_real_small_join(tmp_path):
    config = load_task_config(TASK, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(extract_sources(config, CORPORA, tmp_path), config)
    # The TSV is whole (5,601 included rows); the zip holds few of their WAVs.
    assert len(df) == 5601 and df["label"].nunique() == 302
    present = df[df["relpath"].map(lambda p: Path(p).is_file())]
    assert 0 < len(present) <= 20
    assert all(sf.info(io.BytesIO(Path(p).read_bytes())).channels == 1 for p in present["relpath"])
