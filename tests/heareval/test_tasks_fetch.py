"""`python -m heareval.tasks` against a loopback "Zenodo": a MirrorServer over a folder holding a
record JSON in Zenodo's shape and task tarballs in HEAR 2021's layout."""

import csv
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hearcore.cli import UNREACHABLE
from heareval.tasks import fetch as fetch_module
from heareval.tasks.__main__ import main
from heareval.tasks.plan import human_size, space_needed
from heareval.tasks.zenodo import parse_record
from hearpreprocess.mirror import MirrorServer, mirror_location

REPO = Path(__file__).resolve().parents[2]
RECORD = "6332517"
TONES = "hear2021-tones-v1-small-48000.tar.gz"
BEEPS_FULL = "hear2021-beeps-v1.0-hear2021-full-48000.tar.gz"
BEEPS_SMALL = "hear2021-beeps-v1.0-hear2021-small-48000.tar.gz"


# --- building the tarballs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tones_bundle(tmp_path_factory):
    """The built-in example's small bundle at 48 kHz, as hearpreprocess builds it."""
    root = tmp_path_factory.mktemp("tones")
    command = [
        sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode", "small",
        "--sample-rate", "48000", "--no-tarballs", "--tasks-dir", str(root / "tasks"),
        "--work-dir", str(root / "work"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return root / "tasks" / "tones-v1-small"


def make_beeps_bundle(folder: Path, mode: str) -> Path:
    """A tiny hand-made scene bundle; its version holds a dash, like beijing_opera's."""
    bundle = folder / f"beeps-v1.0-hear2021-{mode}"
    splits = ["train", "valid", "test"]
    (bundle / "48000").mkdir(parents=True)
    metadata = {
        "task_name": "beeps", "version": "v1.0-hear2021", "mode": mode,
        "embedding_type": "scene", "prediction_type": "multiclass", "split_mode": "trainvaltest",
        "sample_duration": 0.25, "evaluation": ["top1_acc"], "splits": splits,
    }  # fmt: skip
    (bundle / "task_metadata.json").write_text(json.dumps(metadata))
    (bundle / "labelvocabulary.csv").write_text("idx,label\n0,low\n1,high\n")
    t = np.arange(12000) / 48000
    for split in splits:
        (bundle / "48000" / split).mkdir()
        labels = {}
        for label, freq in (("low", 220.0), ("high", 880.0)):
            sf.write(bundle / "48000" / split / f"{label}.wav", 0.3 * np.sin(2 * np.pi * freq * t),
                     48000, subtype="PCM_16")  # fmt: skip
            labels[f"{label}.wav"] = [label]
        (bundle / f"{split}.json").write_text(json.dumps(labels))
    return bundle


def pack(bundle: Path, prefix: str) -> bytes:
    """A .tar.gz of `bundle` rooted at `prefix` (`tasks`, `./tasks`, `hear-2021.0.6/tasks`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        tf.add(bundle, arcname=f"{prefix}/{bundle.name}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tarballs(tones_bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("beeps")
    return {
        TONES: pack(tones_bundle, "tasks"),
        BEEPS_FULL: pack(make_beeps_bundle(folder, "full"), "hear-2021.0.6/tasks"),
        BEEPS_SMALL: pack(make_beeps_bundle(folder, "small"), "./tasks"),
    }


# --- the loopback Zenodo --------------------------------------------------------------------


def content_url(record: str, key: str) -> str:
    return f"https://zenodo.org/api/records/{record}/files/{key}/content"


def publish(root: Path, files: dict, record: str = RECORD, announce: dict | None = None) -> None:
    """Write a record in Zenodo's current shape and its files' content into a mirror folder.

    `announce` overrides what the record says of a file (e.g. a wrong md5 or a huge size).
    """
    entries = []
    for key, data in files.items():
        entry = {
            "id": hashlib.sha1(key.encode()).hexdigest(), "key": key, "size": len(data),
            "checksum": f"md5:{hashlib.md5(data).hexdigest()}",
            "links": {"self": content_url(record, key)},
        }  # fmt: skip
        entry.update((announce or {}).get(key, {}))
        entries.append(entry)
        mirror_location(root, content_url(record, key)).write_bytes(data)
    body = {
        "id": int(record), "doi": f"10.5281/zenodo.{record}",
        "metadata": {"title": "HEAR 2021 task bundles (test copy)", "version": "2021.3"},
        "files": entries,
    }  # fmt: skip
    # zenodo.org/api/records/<id> is a folder here (it holds files/), so the JSON is its index.
    index = root / "zenodo.org" / "api" / "records" / record / "index.json"
    index.write_text(json.dumps(body))


@pytest.fixture
def zenodo(tmp_path, tarballs):
    root = tmp_path / "mirror"
    root.mkdir()
    files = dict(tarballs, **{"README.md": b"HEAR 2021\n"})
    publish(root, files)
    with MirrorServer(root) as server:
        yield server


def fetch(server, *args):
    return main(["fetch", *args, "--mirror", server.url, "--quiet", "--backoff", "0.01"])


def file_gets(server):
    return [(path, rng) for method, path, rng in server.requests_log if "/files/" in path]


def tree(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# --- tests ----------------------------------------------------------------------------------


def test_list_prints_every_task_tarball_and_downloads_nothing(zenodo, capsys):
    assert main(["list", "--mirror", zenodo.url]) == 0
    out = capsys.readouterr().out
    assert "Zenodo record 6332517: HEAR 2021 task bundles (test copy), version 2021.3" in out
    lines = {line.split()[-1]: line.split() for line in out.splitlines()[2:] if "tar.gz" in line}
    assert set(lines) == {TONES, BEEPS_FULL, BEEPS_SMALL}
    assert lines[TONES][:3] == ["tones", "v1", "small"]
    assert lines[BEEPS_FULL][:3] == ["beeps", "v1.0-hear2021", "full"]
    assert " ".join(lines[TONES][3:5]) == human_size(served(zenodo, TONES).stat().st_size)
    assert "also in the record (not fetched): README.md" in out
    assert file_gets(zenodo) == []


def served(server, key: str) -> Path:
    """The file the loopback Zenodo serves as `key`'s content."""
    return server.root / "zenodo.org/api/records" / RECORD / "files" / key / "content"


def test_fetch_one_task_then_rerun_fetches_nothing(zenodo, tones_bundle, tmp_path, capsys):
    dest = tmp_path / "tasks"
    assert fetch(zenodo, "tones", "--dest", str(dest)) == 0
    out = capsys.readouterr().out
    assert tree(dest / "tones-v1-small") == tree(tones_bundle)
    assert sorted(p.name for p in dest.iterdir()) == [
        ".downloads",
        "fetched.json",
        "tones-v1-small",
    ]
    assert list((dest / ".downloads").iterdir()) == []  # the tarball goes once unpacked
    entry = json.loads((dest / "fetched.json").read_text())["bundles"]["tones-v1-small"]
    data = served(zenodo, TONES)
    assert entry["record"] == RECORD and entry["key"] == TONES
    assert entry["md5"] == hashlib.md5(data.read_bytes()).hexdigest()
    assert entry["size"] == data.stat().st_size and entry["fetched_at"].endswith("+00:00")
    assert f"python -m heareval.embeddings.runner MODULE --tasks-dir {dest} --task all" in out
    assert file_gets(zenodo) == [(f"/zenodo.org/api/records/{RECORD}/files/{TONES}/content", None)]

    zenodo.requests_log.clear()
    assert fetch(zenodo, "tones-v1-small", "--dest", str(dest)) == 0
    assert "tones-v1-small (already fetched)" in capsys.readouterr().out
    assert [path for _, path, _ in zenodo.requests_log] == [
        f"/zenodo.org/api/records/{RECORD}",
        f"/zenodo.org/api/records/{RECORD}/index.json",
    ]


def test_fetch_every_mode_of_a_task_then_all(zenodo, tmp_path, capsys):
    dest = tmp_path / "tasks"
    assert fetch(zenodo, "beeps", "--dest", str(dest)) == 0
    # The full tarball is rooted at hear-2021.0.6/tasks/, the small one at ./tasks/.
    for mode in ("full", "small"):
        assert (dest / f"beeps-v1.0-hear2021-{mode}" / "48000" / "test" / "low.wav").is_file()
    assert not (dest / "hear-2021.0.6").exists() and not (dest / "tasks").exists()
    zenodo.requests_log.clear()
    assert fetch(zenodo, "all", "--dest", str(dest)) == 0
    assert [path.split("/")[-2] for path, _ in file_gets(zenodo)] == [TONES]
    bundles = json.loads((dest / "fetched.json").read_text())["bundles"]
    assert sorted(bundles) == [
        "beeps-v1.0-hear2021-full", "beeps-v1.0-hear2021-small", "tones-v1-small",
    ]  # fmt: skip
    assert "tones-v1-small (fetched now)" in capsys.readouterr().out


def arm_cuts(monkeypatch, server, cuts: list):
    """Set MirrorServer's one-shot cut just before each tarball download, so that the record
    JSON, fetched first, does not use it up."""
    real = fetch_module.download

    def download(*args, **kwargs):
        server.cut_after_bytes = cuts.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(fetch_module, "download", download)


def test_resume_after_cut_connection_within_and_across_runs(zenodo, tmp_path, capsys, monkeypatch):
    dest = tmp_path / "tasks"
    content = f"/zenodo.org/api/records/{RECORD}/files/{TONES}/content"
    assert served(zenodo, TONES).stat().st_size > 400_000
    arm_cuts(monkeypatch, zenodo, [100_000, 200_000])
    assert fetch(zenodo, "tones", "--dest", str(dest), "--retries", "0") == 1
    err = capsys.readouterr().err
    part = dest / ".downloads" / f"{TONES}.part"
    assert f"NOT FETCHED: tones-v1-small: downloading {TONES}" in err
    assert f"the 100000 bytes downloaded so far are kept in {part}" in err and "resume" in err
    assert part.stat().st_size == 100_000 and not (dest / "tones-v1-small").exists()

    zenodo.requests_log.clear()  # the next run is cut again, and retries from where it stopped
    assert fetch(zenodo, "tones", "--dest", str(dest)) == 0
    assert file_gets(zenodo) == [(content, "bytes=100000-"), (content, "bytes=300000-")]
    assert (dest / "tones-v1-small" / "task_metadata.json").is_file()


def test_corrupt_download_is_refused_and_deleted(tmp_path, tarballs, capsys):
    root = tmp_path / "mirror"
    good = tarballs[TONES]
    publish(root, {TONES: good})
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF  # same size, another md5: what a broken mirror would serve
    mirror_location(root, content_url(RECORD, TONES)).write_bytes(bytes(bad))
    dest = tmp_path / "tasks"
    with MirrorServer(root) as server:
        assert fetch(server, "tones", "--dest", str(dest)) == 1
    err = capsys.readouterr().err
    assert f"tones-v1-small: downloading {TONES}" in err
    assert f"md5 mismatch: expected {hashlib.md5(good).hexdigest()}" in err
    assert "was deleted (nothing was extracted)" in err and "Traceback" not in err
    assert sorted(p.name for p in dest.rglob("*")) == [".downloads"]


def test_task_not_in_record(zenodo, tmp_path, capsys):
    assert fetch(zenodo, "tones", "tone", "esc50", "--dest", str(tmp_path / "tasks")) == 2
    err = capsys.readouterr().err
    assert "not in Zenodo record 6332517: 'tone' (did you mean 'tones'?), 'esc50'" in err
    assert "The record has 2 tasks: beeps, tones" in err and "heareval.tasks list" in err
    assert file_gets(zenodo) == [] and not (tmp_path / "tasks").exists()


def test_record_that_does_not_exist(zenodo, tmp_path, capsys):
    # NOT_FOUND (hearcore.cli): what was asked for does not exist
    assert fetch(zenodo, "tones", "--record", "999", "--dest", str(tmp_path / "tasks")) == 3
    err = capsys.readouterr().err
    assert "Zenodo record 999 does not exist (HTTP 404" in err and "check --record" in err
    assert "6332517" in err


def test_api_unreachable_is_a_clear_error_without_traceback(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed once the block ends
    command = [
        sys.executable, "-m", "heareval.tasks", "fetch", "tones", "--mirror", dead,
        "--retries", "1", "--backoff", "0.01", "--dest", str(tmp_path / "tasks"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == UNREACHABLE, done.stderr
    assert "cannot reach the Zenodo API for record 6332517" in done.stderr
    assert "after 2 attempts" in done.stderr and "ConnectionError" in done.stderr
    assert "check that the mirror is running" in done.stderr and "Traceback" not in done.stderr


def test_tarball_with_member_escaping_its_root_is_refused(tmp_path, capsys):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in (
            ("tasks/evil-v1-full/task_metadata.json", b"{}"),
            ("../escape.txt", b"x"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    root = tmp_path / "mirror"
    publish(root, {"hear2021-evil-v1-full-48000.tar.gz": buffer.getvalue()})
    dest = tmp_path / "work" / "tasks"
    with MirrorServer(root) as server:
        assert fetch(server, "evil", "--dest", str(dest)) == 1
    err = capsys.readouterr().err
    assert "evil-v1-full:" in err and "was refused" in err and "'../escape.txt'" in err
    assert "Nothing was extracted and the tarball was deleted" in err
    assert sorted(p.name for p in dest.rglob("*")) == [".downloads"]
    assert not list(tmp_path.rglob("escape.txt"))


def test_not_enough_disk_space(tmp_path, tarballs, capsys):
    root = tmp_path / "mirror"
    publish(root, {TONES: tarballs[TONES]}, announce={TONES: {"size": 10**15}})
    dest = tmp_path / "tasks"
    with MirrorServer(root) as server:
        assert fetch(server, "tones", "--dest", str(dest)) == 1
        assert file_gets(server) == []
    err = capsys.readouterr().err
    assert "not enough disk space for 1 bundle(s)" in err
    assert f"need about {human_size(2_100_000_000_000_000)}" in err
    assert f"largest tarball still to download, {human_size(10**15)}" in err
    assert "1.1 x the tarball sizes" in err and re.search(r"only [\d.]+ \w*B is free", err)


def test_existing_folder_not_fetched_by_us_is_never_replaced(
    zenodo, tones_bundle, tmp_path, capsys
):
    dest = tmp_path / "tasks"
    shutil.copytree(tones_bundle, dest / "tones-v1-small")
    before = tree(dest / "tones-v1-small")
    assert fetch(zenodo, "tones", "--dest", str(dest)) == 2
    assert "was not fetched by this command" in capsys.readouterr().err
    assert tree(dest / "tones-v1-small") == before and file_gets(zenodo) == []


def test_bundle_from_another_record_revision_is_replaced(zenodo, tmp_path, tarballs):
    dest, other = tmp_path / "tasks", "5887964"
    assert fetch(zenodo, "beeps-v1.0-hear2021-small", "--dest", str(dest)) == 0
    revised = tmp_path / "revised"
    bundle = make_beeps_bundle(revised, "small")
    (bundle / "NOTE.txt").write_text("revised\n")
    publish(zenodo.root, {BEEPS_SMALL: pack(bundle, "tasks")}, record=other)
    assert fetch(zenodo, "beeps", "--record", other, "--dest", str(dest)) == 0
    assert (dest / "beeps-v1.0-hear2021-small" / "NOTE.txt").read_text() == "revised\n"
    entry = json.loads((dest / "fetched.json").read_text())["bundles"]["beeps-v1.0-hear2021-small"]
    assert entry["record"] == other and not list(dest.glob(".tmp-*"))


def test_older_record_shape(tmp_path, tarballs):
    """filename/filesize, a bare md5 and links.download, served at records/<id> itself."""
    root, key, data = tmp_path / "mirror", BEEPS_SMALL, tarballs[BEEPS_SMALL]
    url = f"https://zenodo.org/api/files/0d5d5b7c-bucket/{key}"
    mirror_location(root, url).write_bytes(data)
    body = {"id": 5885750, "metadata": {"title": "HEAR 2021", "version": "2021.1"}, "files": [
        {"filename": key, "filesize": len(data), "checksum": hashlib.md5(data).hexdigest(),
         "links": {"download": url}},
    ]}  # fmt: skip
    mirror_location(root, "https://zenodo.org/api/records/5885750").write_text(json.dumps(body))
    dest = tmp_path / "tasks"
    with MirrorServer(root) as server:
        assert fetch(server, "all", "--record", "5885750", "--dest", str(dest)) == 0
    assert (dest / "beeps-v1.0-hear2021-small" / "labelvocabulary.csv").is_file()
    assert (
        json.loads((dest / "fetched.json").read_text())["bundles"]["beeps-v1.0-hear2021-small"][
            "record"
        ]
        == "5885750"
    )


def test_parse_record_keys_and_shapes():
    record = parse_record({"id": "42", "files": {"entries": {
        "a": {"key": "hear2021-tfds_crema_d-1.0.0-full-48000.tar.gz", "size": 10,
              "checksum": "md5:" + "a" * 32},
        "b": {"key": "hear2021-tfds_crema_d-1.0.0-full-16000.tar.gz", "size": 5},
    }}}, "42")  # fmt: skip
    (tarball,) = record.tarballs
    assert (tarball.task, tarball.version, tarball.mode) == ("tfds_crema_d", "1.0.0", "full")
    assert tarball.md5 == "a" * 32
    assert tarball.url == "https://zenodo.org/api/records/42/files/" + tarball.key + "/content"
    assert [f.key for f in record.others] == ["hear2021-tfds_crema_d-1.0.0-full-16000.tar.gz"]


def test_space_estimate_counts_bytes_already_downloaded(tmp_path):
    record = parse_record({"files": [
        {"key": "hear2021-a-v1-full-48000.tar.gz", "size": 1000, "checksum": "0" * 32},
        {"key": "hear2021-b-v1-full-48000.tar.gz", "size": 3000, "checksum": "0" * 32},
    ]}, "1")  # fmt: skip
    (tmp_path / ".downloads").mkdir()
    (tmp_path / ".downloads" / "hear2021-b-v1-full-48000.tar.gz.part").write_bytes(b"x" * 2500)
    # b has 500 bytes left, a 1000: the largest still to download is a.
    assert space_needed(record.tarballs, tmp_path) == (4400 + 1000, 1000, 4400)


def test_help_explains_every_option_with_its_default():
    done = subprocess.run([sys.executable, "-m", "heareval.tasks", "fetch", "--help"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    text = " ".join(done.stdout.split())
    for option, default in (
        ("--record", "6332517"),
        ("--dest", "tasks"),
        ("--mirror", "none"),
        ("--retries", "5"),
        ("--backoff", "1"),
        ("--quiet", "show them"),
    ):
        assert option in text and f"(default: {default}" in text, option  # fmt: skip


@pytest.mark.slow
def test_fetched_bundle_goes_through_embeddings_predictions_leaderboard(zenodo, tmp_path):
    dest, embeddings, board = tmp_path / "tasks", tmp_path / "embeddings", tmp_path / "board"
    assert fetch(zenodo, "tones", "--dest", str(dest)) == 0

    def run(*args):
        done = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=REPO,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    run("heareval.embeddings.runner", "heareval.models.naive", "--tasks-dir", dest,
        "--task", "all", "--embeddings-dir", embeddings, "--device", "cpu")  # fmt: skip
    task = embeddings / "heareval.models.naive" / "tones-v1-small"
    run("heareval.predictions.runner", task, "--grid", "faster", "--grid-points", "1",
        "--device", "cpu")  # fmt: skip
    assert (task / "test.predicted-scores.json").is_file()
    run("heareval.leaderboard", embeddings, "--out", board)
    with open(board / "leaderboard.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["source"] == "this run"]
    assert [row["model"] for row in rows] == ["heareval.models.naive"]
    # One configuration of the fastest grid on 50 clips: only that a score came out is checked.
    assert 0.0 <= float(rows[0]["tones-v1-small"]) <= 1.0
    assert not os.listdir(dest / ".downloads")
