"""A `tones` corpus served from a loopback mirror under a non-builtin URL, so that a test controls
the archive bytes (corrupt, truncated, wrong md5), and the runner command line that builds it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from hearcore.hashing import file_md5

BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://corpora.test/tones/tones-v1.zip"
BUNDLE = "tones-v1-small"
# The rates of the built-in tones bundle that the built_tones fixture builds.
BUILT_RATES = (16000, 22050)


def write_overrides(path: Path, per_task: dict) -> Path:
    """A --config-overrides TOML file (JSON scalars are valid TOML values)."""
    lines = []
    for task, fields in per_task.items():
        lines.append(f"[{task}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items() if k != "sources"]
        for url, source in fields.get("sources", {}).items():
            lines.append(f'[{task}.sources."{url}"]')
            lines += [f"{k} = {json.dumps(v)}" for k, v in source.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(tmp_path: Path, mirror_url: str, md5: str, *extra: str, fields: dict | None = None):
    overrides = {"tones": {**(fields or {}), "sources": {BUILTIN_URL: {"url": URL, "md5": md5}}}}
    path = write_overrides(tmp_path / f"overrides-{md5[:6]}.toml", overrides)
    return [
        "tones",
        "--mode=small",
        f"--mirror={mirror_url}",
        f"--config-overrides={path}",
        f"--work-dir={tmp_path / 'work'}",
        f"--tasks-dir={tmp_path / 'tasks'}",
        f"--tar-dir={tmp_path / 'tar'}",
        "--workers=1",
        "--sample-rate=16000",
        "--sample-rate=48000",
        *extra,
    ]


def rewrite_zip(src: Path, dest: Path, replace: dict[str, bytes]) -> str:
    """Copy a zip, replacing some members' bytes; returns the new md5."""
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, replace.get(info.filename, zin.read(info.filename)))
    dest.write_bytes(buf.getvalue())
    return file_md5(dest)
