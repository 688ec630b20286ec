"""Decode, downmix, trim/pad, resample and write clips: one decode per clip, every rate from it.

HEAR 2021 ran a separate ffmpeg subprocess per file per stage (mono, trim/pad, one per rate). Here a
clip is decoded once in-process with soundfile (ffmpeg only for formats libsndfile cannot read),
and all five rates are computed from the same trimmed/padded buffer at the native rate, which is
the order HEAR 2021 used (resampling ran after trim/pad).
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np
import soundfile as sf

from hearcore.signal import RESAMPLE_METHODS, resample, to_mono, trim_or_pad
from hearpreprocess import sourceview

CLIP_ACTIONS = ("trimmed", "padded", "exact", "untrimmed")
# Samples converted to PCM16 at a time: the float64 temporaries of the conversion stay at a few
# MiB instead of 8 bytes per sample of the whole clip (2 x 230 MB for 600 s at 48 kHz).
_PCM_BLOCK = 1 << 18


class AudioDecodeError(RuntimeError):
    """A file could not be decoded by soundfile nor ffmpeg; the message names the file and why."""


@dataclass(frozen=True)
class ClipInfo:
    """What `process_clip` found and did.

    Attributes:
        native_sr: sample rate of the source.
        channels: channel count of the source.
        native_frames: frames decoded (of the cut segment when start/stop were given).
        action: "trimmed", "padded", "exact" (already the target length) or "untrimmed"
            (no target duration).
    """

    native_sr: int
    channels: int
    native_frames: int
    action: str

    @property
    def native_duration(self) -> float:
        """Decoded duration in seconds."""
        return self.native_frames / self.native_sr


def read_audio(
    path: str | Path, start: int | None = None, stop: int | None = None
) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 frames.

    Args:
        path: the audio file.
        start: first frame to keep (None = from the beginning).
        stop: frame after the last one to keep (None = to the end).

    Returns:
        (frames, sample_rate), frames as float32 of shape (n_frames, channels).

    Raises:
        FileNotFoundError: the file does not exist.
        AudioDecodeError: neither soundfile nor ffmpeg can decode it.
    """
    path = Path(path)
    if not sourceview.exists(path):
        raise FileNotFoundError(f"Audio file not found: {path}")
    start = None if start is None else int(start)
    stop = None if stop is None else int(stop)
    if path.is_file():
        x, sr = _decode(path, path, start, stop)
    else:  # a member of a partly extracted zip, read in place (sourceview)
        with sourceview.open_file(path) as member:
            x, sr = _decode(path, member, start, stop)
    return np.ascontiguousarray(x), sr


def _decode(
    path: Path, source: Path | BinaryIO, start: int | None, stop: int | None
) -> tuple[np.ndarray, int]:
    """soundfile, else ffmpeg; `source` is the file's path or an open member at its start."""
    try:
        x, sr = sf.read(source, start=start or 0, stop=stop, dtype="float32", always_2d=True)
        return x, int(sr)
    except sf.LibsndfileError as error:
        soundfile_reason = str(error)
    if not isinstance(source, Path):
        source.seek(0)
    x, sr = _read_with_ffmpeg(path, source, soundfile_reason)
    return x[start:stop], sr


def _read_with_ffmpeg(
    path: Path, source: Path | BinaryIO, soundfile_reason: str
) -> tuple[np.ndarray, int]:
    # One subprocess: decode to float32 WAV on stdout. The small WAV header carries the rate and
    # channel count, which saves an ffprobe call; its size fields are bogus on a pipe (0xFFFFFFFF),
    # so the data chunk is taken to run to the end of the stream. A file on disk is named (ffmpeg
    # may seek in it); an archive member is piped in.
    piped = None if isinstance(source, Path) else source.read()
    command = ["ffmpeg", "-v", "error"] + (["-nostdin"] if piped is None else [])
    command += ["-i", str(source) if piped is None else "pipe:0", "-vn", "-map", "0:a:0"]
    command += ["-c:a", "pcm_f32le", "-f", "wav", "-"]
    try:
        result = subprocess.run(command, input=piped, capture_output=True, check=False)
    except FileNotFoundError:
        raise AudioDecodeError(
            f"Cannot decode {path}: libsndfile cannot read it ({soundfile_reason}) and ffmpeg is "
            "not installed; install ffmpeg."
        ) from None
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip()[-500:]
        raise AudioDecodeError(
            f"Cannot decode {path}: libsndfile: {soundfile_reason}; ffmpeg: {reason or 'failed'}"
        )
    try:
        return _parse_float_wav(result.stdout)
    except ValueError as error:
        raise AudioDecodeError(f"Cannot decode {path}: ffmpeg output unreadable: {error}") from None


def _parse_float_wav(data: bytes) -> tuple[np.ndarray, int]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos, channels, sr = 12, None, None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            channels, sr = struct.unpack("<HI", data[body + 2 : body + 8])
        elif chunk_id == b"data":
            if not channels or not sr:
                raise ValueError("data chunk before fmt chunk")
            payload = memoryview(data)[body:]  # slices of a memoryview copy no bytes
            if size != 0xFFFFFFFF and size <= len(payload):
                payload = payload[:size]
            frame_bytes = 4 * channels
            payload = payload[: len(payload) // frame_bytes * frame_bytes]
            x = np.frombuffer(payload, dtype="<f4").astype(np.float32).reshape(-1, channels)
            return x, int(sr)
        pos = body + size + (size & 1)
    raise ValueError("no audio data chunk")


def write_wav(path: str | Path, x: np.ndarray, sr: int) -> None:
    """Write mono 16-bit PCM little-endian WAV, creating parent folders.

    Float samples become int16 by rounding x * 32768 and clipping to [-32768, 32767].
    The canonical 44-byte RIFF header is written by hand: libsndfile fsyncs every file it closes,
    which made writing five small files per clip the slowest part of preprocessing.
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"write_wav expects 1-D (mono) audio, got shape {x.shape}")
    n_bytes = 2 * len(x)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + n_bytes, b"WAVE",
        b"fmt ", 16, 1, 1, int(sr), int(sr) * 2, 2, 16,
        b"data", n_bytes,
    )  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header)
        if x.dtype == np.int16:
            f.write(np.ascontiguousarray(x.astype("<i2", copy=False)).data)
            return
        # Block by block, so the float64 temporaries stay small; each sample goes through the
        # same operations as it would over the whole array, so the bytes do not depend on it.
        for start in range(0, len(x), _PCM_BLOCK):
            block = x[start : start + _PCM_BLOCK].astype(np.float64) * 32768.0
            f.write(np.clip(np.round(block), -32768, 32767).astype("<i2").data)


def process_clip(
    src: str | Path,
    dests: Mapping[int, str | Path],
    duration: float | None,
    method: str = "soxr",
    start: int | None = None,
    stop: int | None = None,
) -> ClipInfo:
    """Decode a clip once and write it, mono and at every requested rate.

    Args:
        src: source audio file.
        dests: sample rate -> output WAV path (the caller makes the folder atomic).
        duration: target length in seconds, or None to keep the full length.
        method: resampler, see `resample`.
        start: first source frame of a segment to cut out (None = the beginning).
        stop: frame after the segment (None = the end).

    Returns:
        ClipInfo of the source and of what was done to its length.
    """
    if method not in RESAMPLE_METHODS:
        raise ValueError(f"Unknown resample method {method!r}; use one of {RESAMPLE_METHODS}")
    # Memory: one clip of 600 s at 44.1 kHz stereo is 212 MB of float32 frames. Only the mono
    # mix is kept past the downmix, and one output rate at a time after it.
    frames, native_sr = read_audio(src, start=start, stop=stop)
    n_native, channels = frames.shape
    mono = to_mono(frames)
    del frames
    if duration is None:
        action = "untrimmed"
    else:
        target = round(duration * native_sr)
        action = "exact" if n_native == target else ("trimmed" if n_native > target else "padded")
        if n_native != target:
            mono = trim_or_pad(mono, target)  # a copy, so that the longer buffer is freed
    for sr, dest in sorted(dests.items()):
        if duration is None:
            n_out = round(n_native * sr / native_sr)
        else:
            n_out = round(duration * sr)
        _write_rate(mono, native_sr, sr, n_out, dest, method)
    return ClipInfo(native_sr=native_sr, channels=channels, native_frames=n_native, action=action)


def _write_rate(mono: np.ndarray, native_sr: int, sr: int, n_out: int, dest, method: str) -> None:
    """Resample `mono` to `sr` and write exactly `n_out` frames to `dest`; the resampled buffer
    is freed on return, before the next rate is computed."""
    # At the native rate resample() would return a copy of the same samples: write them as is.
    y = mono if sr == native_sr else resample(mono, native_sr, sr, method=method)
    # Resamplers may be off by a sample or two from the exact count; pad/trim to it (a view when
    # trimming: the samples are only read).
    write_wav(dest, y[:n_out] if len(y) >= n_out else trim_or_pad(y, n_out), sr)
