"""beehive_states: NU-Hive queen / no-queen, for beehive_states_fold0 and _fold1.

The corpus: sound recorded inside two beehives (the NU-Hive recordings; Hive1 in 2018, Hive3 in
2017), each on one day with its queen and on one day without, in WAVs of mostly 10 minutes (the
shortest about 86 s): 288 recordings per hive, 576 in all. The task is to tell whether
the colony has its queen. To test across hives, one hive is train (and valid) and the other test:
`[recipe_params] train_hive` = "hive1" (fold0) or "hive3" (fold1).

Raw layout (Zenodo record 2667806, one RAR per hive and day; source key `<hive>/<date>`):
    hive1/12062018   Hive1 12_06_2018_QueenBee____HH_MM_00.wav        (32 kHz)
    hive1/31052018   Hive1 31_05_2018_NO_QueenBee____HH_MM_00.wav
    hive3/14072017   Hive3_14_07_2017_NO_QueenBee____HH_MM_00.wav     (44.1 kHz)
    hive3/28072017   Hive3_28_07_2017_QueenBee____HH_MM_00.wav
The WAVs lie at each archive's root; they are searched recursively, so nesting would not matter.
The small zips (kmarufraj/s-task) hold 20 of them each, cut to 2 s, under the same names.

Quirks:
    * Hive1 names have a space after `Hive1`, Hive3 names an underscore; stems keep the space.
    * label = NOQUEEN when the file name contains the uppercase `NO`, else QUEEN (HEAR 2021's
      rule; `QueenBee` itself holds no uppercase `NO`).
    * The hive comes from the source key, not from the file name; stems include the hive and
      the date, so they are unique across the four archives.
    * Only train and test are emitted: the pipeline carves valid from train (train 88.89 /
      valid 11.11 percent of the train stems, i.e. 256/32 in full mode).
    * The channel count of the originals is not established; the pipeline downmixes anyway.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.common import wav_rows

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

HIVES = ("hive1", "hive3")
LAYOUT = "<hive>/<date>/<Hive name>_<date>[_NO]_QueenBee____<HH_MM_SS>.wav"


def extract_metadata(
    sources: dict[str, Path], config: TaskConfig, train_hive: str | None = None
) -> pd.DataFrame:
    """One row per WAV of the four archives: train if it is from `train_hive`, else test.

    Args:
        sources: source key (`hive1/12062018`, ...) -> extracted folder.
        config: the task's config (for messages).
        train_hive: "hive1" or "hive3" (the TOML's `[recipe_params] train_hive`).

    Returns:
        Columns relpath (absolute), label (QUEEN/NOQUEEN) and split (train/test).

    Raises:
        ValueError: unknown `train_hive`, a source key naming no known hive, a hive without
            sources, or a folder without WAVs.
        FileNotFoundError: a source folder is missing.
    """
    if train_hive not in HIVES:
        raise ValueError(
            f"task {config.task_name}: [recipe_params] train_hive = {train_hive!r}; set it to one "
            f"of {list(HIVES)} in recipes/{config.task_name}.toml"
        )
    hives = {key: key.split("/")[0] for key in sources}
    unknown = sorted(key for key, hive in hives.items() if hive not in HIVES)
    if unknown:
        raise ValueError(
            f"task {config.task_name}: source {unknown[0]!r} names no hive; its `split` in "
            f"recipes/{config.task_name}.toml must be one of {list(HIVES)}"
        )
    missing = sorted(set(HIVES) - set(hives.values()))
    if missing:
        raise ValueError(
            f"task {config.task_name}: no source for {missing}; each hive needs its archives in "
            "download_urls (split = hive, name = date) so that one can be train, the other test"
        )
    frames = [
        wav_rows(Path(sources[key]), config, label_of, recursive=True, layout=LAYOUT).assign(
            split="train" if hives[key] == train_hive else "test"
        )
        for key in sorted(sources)
    ]
    return pd.concat(frames, ignore_index=True)


def label_of(path: Path, config: TaskConfig) -> str:
    """NOQUEEN if the file name holds the uppercase `NO` (`..._NO_QueenBee...`), else QUEEN."""
    return "NOQUEEN" if "NO" in path.name else "QUEEN"
