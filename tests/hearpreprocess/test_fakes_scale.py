"""Scaled fake corpora (fakes.Scale) and the catalogue-in-miniature benchmark that uses them.

The default fakes are checked by test_contract.py; here: a scale is honoured (clip count and
length in the real layout), deterministic, refused by a fixed-size fake with a message naming its
file, and a scaled fake builds with the real runner, as the benchmark runs it.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import soundfile as sf
from fakes import Scale, current_scale, is_scalable, make_fake_corpus

from hearpreprocess import runner
from hearpreprocess.config import list_modes, list_tasks, load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

REPO = Path(__file__).resolve().parents[2]
SCALABLE_CASES = [
    (t, m) for t in list_tasks() for m in list_modes(t) if is_scalable(load_task_config(t, m))
]


def test_scale_rejects_empty_or_silent_fakes():
    with pytest.raises(ValueError, match="at least 1 clip"):
        Scale(0)
    with pytest.raises(ValueError, match="more than 0 s"):
        Scale(3, 0.0)


def test_scale_asks_enough_clips_per_label_for_every_fold():
    assert Scale(100).per_group(groups=4, splits=5) == 125
    assert Scale(1).per_group(groups=4, splits=5) == 15  # 3 per fold and label at least


def test_fixed_fake_refuses_a_scale_and_names_its_file(tmp_path):
    config = load_task_config("gunshot_triangulation", "full")
    assert not is_scalable(config)
    with pytest.raises(ValueError, match=r"tests/fakes/gunshot_triangulation\.py"):
        make_fake_corpus(tmp_path, config, Scale(5))


def test_most_tasks_have_a_scaled_fake():
    scalable_tasks = {task for task, _ in SCALABLE_CASES}
    assert len(scalable_tasks) >= len(list_tasks()) - 2, sorted(set(list_tasks()) - scalable_tasks)


def test_scaled_esc50_has_n_clips_per_fold_of_the_asked_length(tmp_path):
    config = load_task_config("esc50", "full")
    fake = make_fake_corpus(tmp_path, config, Scale(7, 3.0))
    assert current_scale() is None  # only set while the fake is written
    (source,) = config.sources
    with zipfile.ZipFile(mirror_location(tmp_path, source.url)) as z:
        wavs = [
            n for n in z.namelist() if n.startswith("ESC-50-master/audio/") and n.endswith(".wav")
        ]
        csv = z.read("ESC-50-master/meta/esc50.csv").decode().splitlines()
        info = sf.info(io.BytesIO(z.read(wavs[0])))
    folds = sorted(name.split("/")[-1].split("-")[0] for name in wavs)
    assert folds == [str(f) for f in range(1, 6) for _ in range(7)]
    assert len(csv) == 1 + len(wavs)
    assert info.frames == round(3.0 * info.samplerate)
    assert set(fake.md5) == {source.url}


@pytest.mark.parametrize("task,mode", SCALABLE_CASES, ids=[f"{t}-{m}" for t, m in SCALABLE_CASES])
def test_scaled_fake_is_deterministic_and_pins_every_source(task, mode, tmp_path):
    config = load_task_config(task, mode)
    scale = Scale(2, 0.2)
    first = make_fake_corpus(tmp_path / "a", config, scale)
    second = make_fake_corpus(tmp_path / "b", config, scale)
    assert first.md5 == second.md5, "a scaled fake must write the same bytes every time"
    fetched = {u for s in config.sources for u in ([p.url for p in s.parts] or [s.url])}
    assert fetched <= set(first.md5), f"no md5 for {sorted(fetched - set(first.md5))}"


def _bundle_clips(bundle: Path, split_names: list[str]) -> dict[str, int]:
    return {s: len(json.loads((bundle / f"{s}.json").read_text())) for s in split_names}


@pytest.mark.slow
def test_scaled_libricount_builds_with_the_runner(tmp_path):
    config = load_task_config("libricount", "full")
    fake = make_fake_corpus(tmp_path / "mirror", config, Scale(12, 5.0))
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(fake.overrides_toml("libricount"))
    with MirrorServer(tmp_path / "mirror") as mirror:
        argv = ["libricount", "--mode=full", f"--mirror={mirror.url}", "--workers=1"]
        argv += [f"--config-overrides={overrides}", "--sample-rate=16000", "--no-tarballs"]
        argv += [f"--{d}-dir={tmp_path / d}" for d in ("work", "tasks", "tar")]
        report = runner.build(runner.parse_args(argv))
    assert report.ok, report.failures
    built = load_task_config("libricount", "full", fake.overrides())
    counts = _bundle_clips(tmp_path / "tasks" / built.bundle_name, built.splits)
    assert sum(counts.values()) == 4 * 15  # four speaker counts, 3 per fold each at least
    assert all(n >= 4 for n in counts.values()), counts


@pytest.mark.slow
def test_benchmark_prints_a_row_per_task_and_the_projection(tmp_path):
    argv = [sys.executable, str(REPO / "benchmarks" / "catalogue_miniature.py")]
    argv += ["--tasks", "tones,gunshot_triangulation", "--scale", "0.2", "--workers", "2"]
    argv += ["--out", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["tones"][1:3] == ["full", "scaled"]
    assert rows["gunshot_triangulation"][1:3] == ["full", "fixed"]
    assert int(rows["tones"][3]) == 5 * 15  # 0.2 of 200 clips is 8 a fold; 15 a label at least
    assert int(rows["gunshot_triangulation"][3]) == 88
    assert float(rows["tones"][7]) > 0  # audio-s per busy core-second
    assert re.search(r"Projection, full catalogue on 16 cores: [\d.]+ (min|h)", done.stdout)
