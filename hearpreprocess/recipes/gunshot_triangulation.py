"""gunshot_triangulation: 22 gunshots recorded by four microphones; which mic heard it.

The corpus (Zenodo record 3997406, also on Dryad): seven firearms fired 22 shots in all (3 or 4
each), recorded by four microphones at different places, each running continuously into its own
long WAV. The dataset authors' `create_data.m` aligns the four recordings by fixed offsets, finds
the shot onsets on mic1 and cuts a 1.5 s clip per (mic, shot): 88 clips, label = the mic.

Raw layout (full mode; `file` sources, each folder holds its one download under the URL's name):
    mic1raw/mic1raw.wav, mic2raw16b/mic2raw16b.wav, mic3raw/mic3raw.wav, mic4raw/mic4raw.wav
Small mode (`train`, the zip HEAR 2021 made from its cut clips, flat):
    train/mic{m}_shot{j}_fid{F}.wav     48 kHz 16-bit mono, 1.5 s (40 of the 88)

Quirks:
    * No clip is written: each row points at a raw file with `source_start`/`source_stop` frames.
    * Onsets are found on mic1 at 48 kHz, as HEAR 2021 did; a file at another native rate is read
      mean-of-channels and resampled with soxr HQ (librosa's default resampler since 0.10) in a
      stream, which gives the same samples as resampling it whole. Each clip's 48 kHz frame range
      is then rounded to the file's native frames, so a clip can sit up to half a native sample off
      HEAR 2021's, which cut the resampled signal itself. The native rates are not established.
    * Split key = firearm (fid1..fid7), so each of the 7 folds holds one firearm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Generator, Iterable

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from hearcore.signal import SOXR_QUALITY, to_mono
from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

SR = 48_000  # the rate of the authors' alignment offsets and onset detection
MIC_KEYS = {1: "mic1raw", 2: "mic2raw16b", 3: "mic3raw", 4: "mic4raw"}
# Where each mic's recording lines up, in 48 kHz samples; its aligned signal starts 1 s earlier.
OFFSETS = {1: 15_764_451, 2: 13_764_742, 3: 9_334_032, 4: 6_794_611}
LEAD = SR
THRESHOLD = 0.8  # |x| at which a shot starts
HOLD = 25_000  # samples after an onset during which no new onset is taken
N_SHOTS = 22
PRE_ROLL = SR // 8  # a clip starts 0.125 s before its onset
CLIP = 72_000  # 1.5 s
BLOCK = 1 << 20  # frames read at a time: memory stays flat however long the recording
MIC_LABELS = frozenset(f"mic{m}" for m in MIC_KEYS)
FIREARMS = frozenset(f"fid{f}" for f in range(1, 8))


def extract_metadata(
    sources: dict[str, Path], config: TaskConfig, precut: bool = False
) -> pd.DataFrame:
    """Rows of the 88 shots cut from the raw files, or of the pre-cut clips when `precut`."""
    if precut:
        return _precut_rows(Path(sources["train"]), config)
    paths = {mic: _raw_file(sources, key, config) for mic, key in MIC_KEYS.items()}
    onsets = cut_onsets(paths[1], OFFSETS[1] - LEAD, config)
    rows = []
    for mic, path in paths.items():
        native_sr, frames = _rate_and_frames(path, config)
        for shot, onset in enumerate(onsets):
            start, stop = clip_frames(OFFSETS[mic] - LEAD + onset - PRE_ROLL, native_sr)
            if stop > frames:
                raise ValueError(
                    f"task {config.task_name}: shot {shot} of mic{mic} would end at frame {stop} "
                    f"of {path}, which has {frames}: not the recording the recipe expects "
                    "(check its md5)"
                )
            fid = f"fid{firearm(shot)}"
            rows.append(
                {
                    "relpath": str(path),
                    "label": f"mic{mic}",
                    "split": "train",
                    "unique_filestem": f"mic{mic}_shot{shot}_{fid}",
                    "split_key": fid,
                    "source_start": start,
                    "source_stop": stop,
                }
            )
    return pd.DataFrame(rows)


def firearm(shot: int) -> int:
    """Firearm id of shot 0..21: shots 0-3 are firearm 1, then three shots per firearm."""
    return 1 if shot == 0 else (shot - 1) // 3 + 1


def clip_frames(start_48k: int, native_sr: int) -> tuple[int, int]:
    """[start, stop) native frames of the 1.5 s clip that starts at 48 kHz sample `start_48k`."""
    if native_sr == SR:
        return start_48k, start_48k + CLIP
    start = (start_48k * native_sr + SR // 2) // SR
    return start, start + (CLIP * native_sr + SR // 2) // SR


def find_onsets(
    blocks: Iterable[tuple[int, np.ndarray]],
    start: int = 0,
    threshold: float = THRESHOLD,
    hold: int = HOLD,
    cap: int = N_SHOTS,
) -> list[int]:
    """The onsets `create_data.m`'s per-sample loop finds in a signal from sample `start` on.

    The loop, on every sample i in order: if not in a shot, |x| >= threshold and fewer than `cap`
    onsets, record i and enter the shot; then, if in a shot and i - last onset > hold, leave it.
    The leaving test runs after the onset test, so after an onset at i the next can come at
    i + hold + 2 at the earliest; that is the jump made here between threshold crossings.

    Args:
        blocks: (index of the block's first sample, 1-D block), consecutive, in order.
        start: the first sample that may be an onset (the loop's first sample).
        threshold, hold, cap: the loop's constants.

    Returns:
        Indices of the onsets (same indexing as `blocks`), at most `cap`.
    """
    onsets: list[int] = []
    allowed = start
    for first, block in blocks:
        hits = np.flatnonzero(np.abs(block) >= threshold) + first
        i = np.searchsorted(hits, allowed)
        while i < len(hits) and len(onsets) < cap:
            onsets.append(int(hits[i]))
            allowed = onsets[-1] + hold + 2
            i = np.searchsorted(hits, allowed)
        if len(onsets) == cap:
            break
    return onsets


def cut_onsets(path: Path, start: int, config: TaskConfig) -> list[int]:
    """The 22 shot onsets of mic1 at 48 kHz, relative to its aligned start `start`."""
    blocks = _blocks_48k(path, start, config)
    try:
        onsets = find_onsets(blocks, start)
    except RuntimeError as e:  # libsndfile failing part way through the file
        raise ValueError(f"task {config.task_name}: cannot read {path} as audio: {e}") from e
    finally:
        blocks.close()
    if len(onsets) < N_SHOTS:
        raise ValueError(
            f"task {config.task_name}: found {len(onsets)} of {N_SHOTS} shot onsets (|x| >= "
            f"{THRESHOLD} at 48 kHz) in {path} after its alignment offset (48 kHz sample {start}): "
            "not the recording the recipe expects (check its md5)"
        )
    onsets = [onset - start for onset in onsets]
    if onsets[0] < PRE_ROLL:
        raise ValueError(
            f"task {config.task_name}: the first shot onset in {path} is {onsets[0]} samples after "
            f"the alignment start, less than the clip's {PRE_ROLL}-sample lead: not the recording "
            "the recipe expects (check its md5)"
        )
    return onsets


def _blocks_48k(
    path: Path, start: int, config: TaskConfig
) -> Generator[tuple[int, np.ndarray], None, None]:
    """Mono blocks of `path` at 48 kHz; at 48 kHz native, only those from `start` on."""
    native_sr, _ = _rate_and_frames(path, config)
    read = dict(blocksize=BLOCK, dtype="float32", always_2d=True)
    if native_sr == SR:
        for k, block in enumerate(sf.blocks(str(path), start=start, **read)):
            yield start + k * BLOCK, to_mono(block)
        return
    stream = soxr.ResampleStream(native_sr, SR, 1, dtype="float32", quality=SOXR_QUALITY)
    first = 0
    for block in sf.blocks(str(path), **read):
        out = stream.resample_chunk(to_mono(block))
        yield first, out
        first += len(out)
    yield first, stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def _raw_file(sources: dict[str, Path], key: str, config: TaskConfig) -> Path:
    if key not in sources:
        raise ValueError(
            f"task {config.task_name}: no source {key!r}; full mode needs the sources "
            f"{', '.join(MIC_KEYS.values())} (check download_urls in its TOML)"
        )
    (source,) = [s for s in config.sources if s.key == key]
    path = Path(sources[key]) / source.filename
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the source {key!r} must hold the "
            f"download of {source.url} (delete its folder and rerun)"
        )
    return path


def _rate_and_frames(path: Path, config: TaskConfig) -> tuple[int, int]:
    try:
        info = sf.info(str(path))
        return int(info.samplerate), int(info.frames)
    except RuntimeError as e:
        raise ValueError(f"task {config.task_name}: cannot read {path} as audio: {e}") from e


def _precut_rows(root: Path, config: TaskConfig) -> pd.DataFrame:
    """One row per `mic{m}_shot{j}_fid{F}.wav`: label = first token, split key = last."""
    rows = []
    for path in sorted(root.rglob("*.wav")):
        tokens = path.stem.split("_")
        label, fid = tokens[0], tokens[-1]
        if label not in MIC_LABELS or fid not in FIREARMS:
            raise ValueError(
                f"task {config.task_name}: {path} is not named mic<1-4>_shot<j>_fid<1-7>.wav; "
                "the small zip is not the one the recipe expects (check its md5)"
            )
        rows.append(
            {
                "relpath": str(path),
                "label": label,
                "split": "train",
                "unique_filestem": path.stem,
                "split_key": fid,
            }
        )
    if not rows:
        raise FileNotFoundError(f"task {config.task_name}: no *.wav clips under {root}")
    return pd.DataFrame(rows)
