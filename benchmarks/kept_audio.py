"""What building a capped subset of a big archive reads and writes, with and without
`extract_first` (the metadata before the splits, only the kept audio after them).

--task nsynth_pitch (tar.gz: the kept members are extracted in one more pass): synthesises an
NSynth-like train archive (`nsynth-train/examples.json` + `audio/<note>.wav`, 4 s, 16 kHz mono
16-bit; real NSynth train has 289,205 notes in 22 GB) and small valid and test archives; the 5h
caps are scaled to keep `--keep` of the train notes.

--task maestro (zip: the kept members are decoded in place): the scaled fake of MAESTRO's layout
(tests/fakes/maestro.py: `maestro-v3.0.0/<year>/<name>.wav|.midi` and the CSV; real MAESTRO is
~100 GB for 1,276 performances), `--performances` of `--seconds` each (44.1/48 kHz stereo
16-bit: 150 x 130 s is about 3.4 GB); the 5h cap per fold is scaled to keep `--keep` of them.

The archives are served on loopback and the task is built in its 5h mode at one sample rate,
without tarballs, once with the recipe's `extract_first` and once extracting everything (today's
way before `extract_first`), each from an empty work folder; the bundles must be identical.
Printed per way: wall time, the bytes the source steps wrote (work_dir/sources and the kept
copies), and the steps' busy time.

    python benchmarks/kept_audio.py [--task nsynth_pitch] [--notes 4000] [--keep 0.05] [--out DIR]
    python benchmarks/kept_audio.py --task maestro [--performances 150] [--seconds 130]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hearpreprocess import config as config_module  # noqa: E402
from hearpreprocess import runner  # noqa: E402
from hearpreprocess.builtin.archives import wav_bytes, write_tar_gz  # noqa: E402
from hearpreprocess.config import load_task_config  # noqa: E402
from hearpreprocess.mirror import MirrorServer, mirror_location  # noqa: E402

SR = 16000
SECONDS = 4.0


def _examples(split: str, n: int) -> dict[str, bytes]:
    """The members of an NSynth-like archive of `n` notes."""
    rng = np.random.default_rng(len(split))
    t = np.arange(int(SR * SECONDS)) / SR
    examples, members = {}, {}
    for i in range(n):
        pitch = int(rng.integers(21, 109))
        family = {"train": "acoustic", "valid": "electronic"}.get(split, "synthetic")
        note = f"keyboard_{family}_{i // 100:03d}-{pitch:03d}-{int(rng.integers(25, 128)):03d}"
        if note in examples:
            continue
        decay = np.exp(-t * rng.uniform(0.5, 3.0))
        audio = 0.5 * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t) * decay
        members[f"nsynth-{split}/audio/{note}.wav"] = wav_bytes(audio, SR)
        examples[note] = {"note_str": note, "pitch": pitch, "sample_rate": SR}
    members[f"nsynth-{split}/examples.json"] = json.dumps(examples).encode()
    return members


def _recipes(folder: Path, task: str, lazy: bool) -> Path:
    """A copy of the recipes folder; without `extract_first` when not `lazy`."""
    shutil.copytree(REPO / "hearpreprocess" / "recipes", folder)
    if not lazy:
        toml = folder / f"{task}.toml"
        lines = toml.read_text().splitlines(keepends=True)
        toml.write_text("".join(x for x in lines if not x.startswith("extract_first")))
    return folder


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _build(out: Path, task: str, mirror: str, overrides: Path, lazy: bool) -> dict:
    config_module.RECIPES_DIR = _recipes(out / f"recipes-{lazy}", task, lazy)
    work, tasks = out / f"work-{lazy}", out / f"tasks-{lazy}"
    argv = [task, "--mode=5h", f"--mirror={mirror}", f"--config-overrides={overrides}"]
    argv += [f"--work-dir={work}", f"--tasks-dir={tasks}", "--no-tarballs", "--workers=1"]
    argv += [f"--sample-rate={SR}"]
    start = time.perf_counter()
    report = runner.build(runner.parse_args(argv))
    wall = time.perf_counter() - start
    assert report.ok, report.not_built
    busy: dict[str, float] = {}
    for record in report.ran:
        busy[record["step"]] = busy.get(record["step"], 0.0) + record["seconds"]
    kept = _bytes_under(work / "kept")
    bundle = load_task_config(task, "5h").bundle_name
    manifest = json.loads((tasks / bundle / "manifest.json").read_text())
    return {
        "wall": wall,
        "source_bytes": _bytes_under(work / "sources") + kept,
        "busy": busy,
        "files": manifest["files"],
    }


def nsynth_corpus(mirror: Path, args: argparse.Namespace) -> tuple[list[str], str]:
    """NSynth-like tar.gz archives under `mirror`: (override lines, what was made)."""
    config = load_task_config("nsynth_pitch", "5h")
    sizes = {"train": args.notes, "valid": max(10, args.notes // 20)}
    sizes["test"] = sizes["valid"]
    md5 = {}
    for source in config.sources:
        md5[source.url] = write_tar_gz(
            mirror_location(mirror, source.url), _examples(source.split, sizes[source.split])
        )
    kept_files = int(args.notes * args.keep)
    caps = {"train": kept_files * SECONDS, "valid": 5 * SECONDS, "test": 5 * SECONDS}
    lines = ["[nsynth_pitch]", "max_task_duration_by_split = { " + ", ".join(
        f"{k} = {v}" for k, v in caps.items()) + " }"]  # fmt: skip
    lines += [f'[nsynth_pitch.sources."{u}"]\nmd5 = "{m}"' for u, m in md5.items()]
    return lines, f"{sum(sizes.values())} notes; 5h-like caps keep {kept_files} + 5 + 5 notes"


def maestro_corpus(mirror: Path, args: argparse.Namespace) -> tuple[list[str], str]:
    """The scaled fake MAESTRO zip under `mirror`: (override lines, what was made)."""
    sys.path.insert(0, str(REPO / "tests"))
    from fakes import Scale, make_fake_corpus

    config = load_task_config("maestro", "5h")
    per_fold = max(1, args.performances // len(config.splits))
    corpus = make_fake_corpus(mirror, config, Scale(per_fold, args.seconds))
    keep = max(1, round(per_fold * args.keep))
    lines = corpus.overrides_toml("maestro").splitlines()
    lines.insert(1, f"max_task_duration_by_fold = {keep * config.sample_duration}")
    made = per_fold * len(config.splits)
    return lines, f"{made} performances of {args.seconds:g} s; the cap keeps {keep} per fold"


CORPORA = {"nsynth_pitch": nsynth_corpus, "maestro": maestro_corpus}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--task", choices=sorted(CORPORA), default="nsynth_pitch")
    p.add_argument("--notes", type=int, default=4000, help="nsynth: train notes (default 4000)")
    p.add_argument("--performances", type=int, default=150, help="maestro: performances (150)")
    p.add_argument("--seconds", type=float, default=130.0, help="maestro: seconds each (130)")
    p.add_argument("--keep", type=float, default=0.05, help="share of the audio kept (0.05)")
    p.add_argument("--out", type=Path, help="scratch folder, kept (default: a temporary one)")
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="kept-audio-"))
    out.mkdir(parents=True, exist_ok=True)
    lines, made = CORPORA[args.task](out / "mirror", args)
    archive_bytes = sum(f.stat().st_size for f in (out / "mirror").rglob("*") if f.is_file())
    overrides = out / "overrides.toml"
    overrides.write_text("\n".join(lines) + "\n")
    print(f"{args.task}: {archive_bytes / 1e6:.0f} MB of archives, {made}")
    results = {}
    with MirrorServer(out / "mirror") as server:
        for lazy in (True, False):
            results[lazy] = _build(out, args.task, server.url, overrides, lazy)
    assert results[True]["files"] == results[False]["files"], "the bundles differ"
    for lazy, name in ((False, "full extraction"), (True, "extract_first + kept audio")):
        r = results[lazy]
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(r["busy"].items()) if v >= 0.05)
        print(f"{name:28s} wall {r['wall']:6.1f} s, source steps wrote "
              f"{r['source_bytes'] / 1e6:7.1f} MB  ({steps})")  # fmt: skip
    if args.out is None:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
