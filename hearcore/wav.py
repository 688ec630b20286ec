"""A WAV file's header, read from its first bytes without decoding (nor needing the rest)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_EXTENSIBLE = 0xFFFE
# Enough bytes for any WAV header we meet (fmt, fact, LIST and bext chunks before the data).
HEAD_BYTES = 64 << 10


@dataclass(frozen=True)
class WavHeader:
    """What a WAV's header says, and how many bytes of samples the file really holds."""

    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    block_align: int
    data_bytes: int
    available_bytes: int

    @property
    def frames(self) -> int:
        """Sample frames the file holds: what its data chunk declares, or less if cut short."""
        return min(self.data_bytes, self.available_bytes) // max(1, self.block_align)

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def parse_wav_header(head: bytes, size: int) -> WavHeader:
    """The header of a WAV file of `size` bytes whose first bytes are `head`.

    Raises:
        ValueError: not RIFF/WAVE, or no fmt chunk before the data chunk within `head`.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("is not a RIFF/WAVE file")
    pos, fmt = 12, None
    while pos + 8 <= len(head):
        chunk_id, chunk_size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if chunk_size < 16 or body + 16 > len(head):
                raise ValueError("has a truncated fmt chunk")
            fmt = struct.unpack("<HHIIHH", head[body : body + 16])
            if fmt[0] == _EXTENSIBLE and chunk_size >= 40 and body + 26 <= len(head):
                # WAVE_FORMAT_EXTENSIBLE: the real format is the first field of the subformat.
                subformat = struct.unpack("<H", head[body + 24 : body + 26])[0]
                fmt = (subformat,) + fmt[1:]
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("has its data chunk before any fmt chunk")
            tag, channels, rate, _, block_align, bits = fmt
            return WavHeader(tag, channels, rate, bits, block_align, chunk_size, size - body)
        pos = body + chunk_size + (chunk_size & 1)
    raise ValueError(f"has no data chunk within its first {len(head)} bytes")
