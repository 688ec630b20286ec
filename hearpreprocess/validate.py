"""Check task bundles and their tarballs against their manifests and the WAV format.

    python -m hearpreprocess.runner validate PATH [PATH ...]

Each PATH is a bundle folder (tasks/<task>-<version>-<mode>/) or one of its tarballs
(hear-<version>-<bundle>-<rate>.tar.gz), read in one streaming pass and never extracted. Checked:
every file's sha256 and size against manifest.json, no file missing and none extra (a tarball holds
the files of its one rate, plus the top-level files, whose manifest lists every rate); every WAV
under <rate>/ is mono 16-bit PCM at that rate, as long as its header says and, for fixed-length
tasks, exactly sample_duration (task_metadata.json) long; a tarball holds only plain files and
folders, all under hear-<version>/tasks/<bundle>/ (no absolute path, `..`, link or device).

Prints one line per problem (path: file: what), then one line per PATH, OK or its problem count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Sequence, cast

from isal import igzip, isal_zlib
from tqdm import tqdm

from hearcore.cli import FAILED, NOT_FOUND, OK, UserError, make_parser, run_command
from hearcore.format import MANIFEST_FILE, METADATA_FILE
from hearcore.wav import HEAD_BYTES, WavHeader, parse_wav_header

TARBALL_SUFFIXES = (".tar.gz", ".tgz")
# The top-level JSON files that the checks read; kept in memory while they are hashed.
_KEPT_FILES = (MANIFEST_FILE, METADATA_FILE)
_CHUNK = 1 << 20
# Below this many bytes a check is over too soon for a progress bar to help.
PROGRESS_MIN_BYTES = 256 << 20
_PCM = 1
# What reading a damaged .tar.gz raises (isal's error is an Exception its stubs do not show).
TAR_READ_ERRORS: tuple[type[Exception], ...] = (
    tarfile.TarError,
    OSError,
    EOFError,
    cast(type[Exception], isal_zlib.error),
)


@dataclass
class FileFacts:
    """One file of a bundle, as read: its size, sha256 and, for a WAV, its header."""

    size: int
    sha256: str
    wav: WavHeader | None = None
    wav_error: str = ""
    content: bytes | None = None


@dataclass
class Scan:
    """Everything read from a bundle folder or a tarball, by path relative to the bundle."""

    files: dict[str, FileFacts] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    complete: bool = True


def read_facts(stream: IO[bytes], relpath: str) -> FileFacts:
    """Hash a file in one pass, parsing a WAV's header and keeping the files the checks read."""
    hasher, size = hashlib.sha256(), 0
    head, kept = bytearray(), bytearray()
    keep = relpath in _KEPT_FILES
    is_wav = relpath.lower().endswith(".wav")
    while chunk := stream.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
        if is_wav and len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if keep:
            kept += chunk
    facts = FileFacts(size=size, sha256=hasher.hexdigest(), content=bytes(kept) if keep else None)
    if is_wav:
        try:
            facts.wav = parse_wav_header(bytes(head), size)
        except ValueError as e:
            facts.wav_error = str(e)
    return facts


def scan_folder(folder: Path, advance: Callable[[int], None]) -> Scan:
    """Read every file of a bundle folder; links are problems (a bundle holds real files)."""
    scan = Scan()
    for parent, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(dirs + names):
            path = Path(parent) / name
            relpath = path.relative_to(folder).as_posix()
            if path.is_symlink():
                scan.problems.append(f"{relpath}: is a link; a bundle holds real files only")
            elif name in names and path.is_file():
                with open(path, "rb") as f:
                    scan.files[relpath] = read_facts(f, relpath)
                advance(scan.files[relpath].size)
        dirs[:] = [d for d in dirs if not (Path(parent) / d).is_symlink()]
    return scan


def member_problem(member: tarfile.TarInfo) -> str:
    """Why a tar member must not be extracted, or "" when it is a plain file or folder."""
    parts = member.name.split("/")
    if member.name.startswith("/") or re.match(r"^[A-Za-z]:", member.name):
        return "has an absolute path"
    if ".." in parts:
        return "climbs out of its folder with `..`"
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname}); a bundle holds real files only"
    if not (member.isfile() or member.isdir()):
        return "is a device, FIFO or other special file; a bundle holds real files only"
    return ""


def bundle_prefix(name: str) -> tuple[str, ...]:
    """The folder of the bundle in a tarball, from a file's name: hear-<version>/tasks/<b>."""
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    return parts[: min(3, len(parts) - 1)]


def scan_tarball(path: Path, advance: Callable[[int], None]) -> tuple[Scan, tuple[str, ...]]:
    """Read every member of a tarball in one streaming pass; also return the bundle's folder
    (hear-<version>/tasks/<bundle>, from the first file)."""
    scan, position = Scan(), 0
    prefix: tuple[str, ...] = ()
    with open(path, "rb") as raw:
        try:
            with (
                igzip.IGzipFile(fileobj=raw, mode="rb") as gz,
                tarfile.open(fileobj=gz, mode="r|") as tar,
            ):
                for member in tar:
                    problem = member_problem(member)
                    if problem:
                        scan.problems.append(f"{member.name}: {problem}")
                    elif member.isfile():
                        prefix = prefix or bundle_prefix(member.name)
                        _scan_file_member(tar, member, scan, prefix)
                    advance(raw.tell() - position)
                    position = raw.tell()
        except TAR_READ_ERRORS as e:
            scan.complete = False
            scan.problems.append(
                f"is not a readable .tar.gz ({type(e).__name__}: {e}); rebuild or fetch it again"
            )
    return scan, prefix


def _scan_file_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, scan: Scan, prefix: tuple[str, ...]
) -> None:
    parts = tuple(p for p in member.name.split("/") if p not in ("", "."))
    if parts[: len(prefix)] != prefix or len(parts) <= len(prefix):
        scan.problems.append(f"{member.name}: lies outside the bundle's folder {'/'.join(prefix)}")
        return
    relpath = "/".join(parts[len(prefix) :])
    if relpath in scan.files:
        scan.problems.append(f"{relpath}: is in the tarball twice")
    stream = tar.extractfile(member)
    assert stream is not None  # a regular file, checked by the caller
    scan.files[relpath] = read_facts(stream, relpath)


def rate_folder(relpath: str) -> int | None:
    """The rate of the audio folder a bundle file lies in, None for a top-level file."""
    first, _, rest = relpath.partition("/")
    return int(first) if first.isdigit() and rest else None


def check_manifest(scan: Scan, rates: set[int] | None) -> list[str]:
    """Problems of the files against the manifest; `rates`: the rates a tarball holds (its
    manifest lists every rate of the bundle), None for a folder (every file listed)."""
    facts = scan.files.get(MANIFEST_FILE)
    if facts is None:
        return [f"{MANIFEST_FILE}: is missing; the bundle cannot be verified"]
    try:
        listed = json.loads(facts.content or b"").get("files")
        if not isinstance(listed, dict):
            raise ValueError("no `files` table")
    except (ValueError, AttributeError) as e:
        return [f"{MANIFEST_FILE}: is unreadable ({e}); the bundle cannot be verified"]
    expected = {p for p in listed if rates is None or rate_folder(p) in (None, *rates)}
    present = set(scan.files) - {MANIFEST_FILE}
    problems = [f"{p}: is missing" for p in sorted(expected - present)]
    problems += [f"{p}: is not in the manifest" for p in sorted(present - expected)]
    for relpath in sorted(present & expected):
        entry, found = listed[relpath], scan.files[relpath]
        if found.size != entry.get("size"):
            problems.append(
                f"{relpath}: is {found.size} bytes, the manifest says {entry.get('size')}"
            )
        elif found.sha256 != entry.get("sha256"):
            problems.append(f"{relpath}: its sha256 differs from the manifest's (changed bytes)")
    return problems


def clip_duration(scan: Scan) -> tuple[float | None, list[str]]:
    """The fixed clip length of the task (None: clips keep their own length), and any problem."""
    facts = scan.files.get(METADATA_FILE)
    if facts is None:
        return None, [f"{METADATA_FILE}: is missing; WAV lengths are not checked"]
    try:
        duration = json.loads(facts.content or b"").get("sample_duration")
        return (None if duration is None else float(duration)), []
    except (ValueError, AttributeError, TypeError) as e:
        return None, [f"{METADATA_FILE}: is unreadable ({e}); WAV lengths are not checked"]


def wav_problems(relpath: str, facts: FileFacts, duration: float | None) -> list[str]:
    """What is wrong with one WAV of a <rate>/ folder: the format, the rate and the length."""
    rate, wav = rate_folder(relpath), facts.wav
    if wav is None:
        return [f"{relpath}: {facts.wav_error}"]
    problems = []
    if wav.format_tag != _PCM:
        problems.append(f"{relpath}: has format tag {wav.format_tag}, not PCM ({_PCM})")
    if wav.channels != 1:
        problems.append(f"{relpath}: has {wav.channels} channels, not 1 (mono)")
    if wav.bits != 16:
        problems.append(f"{relpath}: has {wav.bits}-bit samples, not 16-bit")
    if wav.sample_rate != rate:
        problems.append(f"{relpath}: is at {wav.sample_rate} Hz in the {rate} Hz folder")
    if wav.data_bytes > wav.available_bytes:
        problems.append(
            f"{relpath}: its header declares {wav.data_bytes} bytes of samples but it holds "
            f"{wav.available_bytes} (truncated)"
        )
    frame_bytes = wav.block_align or max(1, wav.channels * wav.bits // 8)
    frames = min(wav.data_bytes, wav.available_bytes) // frame_bytes
    if duration is not None and rate is not None and frames != round(duration * rate):
        problems.append(
            f"{relpath}: has {frames} samples, not {round(duration * rate)} "
            f"({duration:g} s at {rate} Hz)"
        )
    return problems


def check_wavs(scan: Scan) -> list[str]:
    """Problems of every WAV under a <rate>/ folder, and of the metadata the lengths come from."""
    duration, problems = clip_duration(scan)
    for relpath in sorted(scan.files):
        if rate_folder(relpath) is not None and relpath.lower().endswith(".wav"):
            problems += wav_problems(relpath, scan.files[relpath], duration)
    return problems


def tarball_layout_problems(path: Path, prefix: tuple[str, ...], rates: set[int]) -> list[str]:
    """A tarball holds one bundle at one rate, under hear-<version>/tasks/, and is named so."""
    if len(prefix) < 3 or prefix[1] != "tasks" or not prefix[0].startswith("hear-"):
        return [f"its members are not under hear-<version>/tasks/<bundle>/ ({'/'.join(prefix)})"]
    if len(rates) != 1:
        held = ", ".join(map(str, sorted(rates))) or "none"
        return [f"holds {len(rates)} audio folders ({held}); a tarball holds exactly one rate"]
    expected = f"{prefix[0]}-{prefix[2]}-{next(iter(rates))}.tar.gz"
    if path.name != expected:
        return [f"is named {path.name} but holds what {expected} should hold"]
    return []


def is_tarball(path: Path) -> bool:
    return path.name.endswith(TARBALL_SUFFIXES)


def validate_path(path: Path, progress: bool = False) -> list[str]:
    """Every problem of one bundle folder or tarball, each line `PATH: FILE: what`; [] when clean.

    Raises:
        UserError (NOT_FOUND): `path` does not exist, or is neither a folder nor a .tar.gz.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; pass a bundle folder or a .tar.gz", NOT_FOUND)
    if not (path.is_dir() or (path.is_file() and is_tarball(path))):
        raise UserError(
            f"{path} is neither a bundle folder nor a tarball ({', '.join(TARBALL_SUFFIXES)})",
            NOT_FOUND,
        )
    tarball = path.is_file()
    total = path.stat().st_size if tarball else _folder_bytes(path)
    show = progress and sys.stderr.isatty() and total >= PROGRESS_MIN_BYTES
    with tqdm(total=total, unit="B", unit_scale=True, desc=path.name, disable=not show) as bar:
        if tarball:
            scan, prefix = scan_tarball(path, bar.update)
        else:
            scan, prefix = scan_folder(path, bar.update), ()
    problems = list(scan.problems)
    if scan.complete:
        rates = {r for r in map(rate_folder, scan.files) if r is not None}
        if tarball:
            problems += tarball_layout_problems(path, prefix, rates)
        problems += check_manifest(scan, rates if tarball else None)
    problems += check_wavs(scan)
    return [f"{path}: {problem}" for problem in problems]


def _folder_bytes(folder: Path) -> int:
    return sum(
        (Path(parent) / name).stat().st_size
        for parent, _, names in os.walk(folder)
        for name in names
        if (Path(parent) / name).is_file()
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = make_parser("hearpreprocess.runner validate", __doc__)
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        type=Path,
        help="a bundle folder (tasks/<task>-<version>-<mode>) or a tarball "
        "(hear-<version>-<bundle>-<rate>.tar.gz); repeat for several",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help=f"never show a progress bar (shown on a terminal for inputs of "
        f"{PROGRESS_MIN_BYTES >> 20} MiB or more)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The `validate` command: 0 when every PATH is clean, 1 when any has a problem, 3 when a
    PATH is missing or not a bundle folder nor a tarball (checked before any is read)."""
    args = parse_args(argv)
    for path in args.paths:
        if not path.exists() or not (path.is_dir() or is_tarball(path)):
            validate_path(path)  # raises the UserError that says what is wrong with it
    any_problem = False
    for path in args.paths:
        problems = validate_path(path, progress=not args.no_progress)
        for line in problems:
            print(line)
        print(f"{path}: {len(problems)} problem(s)" if problems else f"{path}: OK", flush=True)
        any_problem = any_problem or bool(problems)
    return FAILED if any_problem else OK


if __name__ == "__main__":
    sys.exit(run_command(main))
