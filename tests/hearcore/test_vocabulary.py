"""labelvocabulary.csv: one rule for order, written and read back by the same module."""

import pandas as pd
import pytest

from hearcore.vocabulary import (
    VocabularyError,
    read_vocabulary,
    vocabulary_text,
    write_label_vocabulary,
)


def test_written_vocabulary_reads_back_in_order(tmp_path):
    rows = pd.DataFrame({"label": ["10", "9", "", "10", "2"]})
    write_label_vocabulary(tmp_path / "v.csv", rows)
    assert (tmp_path / "v.csv").read_text() == "idx,label\n0,2\n1,9\n2,10\n"
    assert read_vocabulary(tmp_path / "v.csv") == ["2", "9", "10"]


def test_rows_may_come_in_any_order_but_must_number_0_to_k(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("idx,label\n1,dog\n0,cat\n")
    assert read_vocabulary(path) == ["cat", "dog"]
    for text, problem in [
        ("idx,label\n0,cat\n2,dog\n", "idx must run 0..1"),
        ("idx,label\n0,cat\n0,dog\n", "idx must run 0..1"),
        ("index,name\n0,cat\n", "idx,label"),
        ("idx,label\nx,cat\n", "idx,label"),
    ]:
        path.write_text(text)
        with pytest.raises(VocabularyError, match=problem):
            read_vocabulary(path)
    with pytest.raises(VocabularyError, match="cannot read"):
        read_vocabulary(tmp_path / "missing.csv")


def test_labels_with_commas_and_quotes_survive(tmp_path):
    labels = ["a, b", 'say "hi"', "plain"]
    (tmp_path / "v.csv").write_text(vocabulary_text(labels))
    assert read_vocabulary(tmp_path / "v.csv") == labels
