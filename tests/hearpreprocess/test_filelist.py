"""parse_manifest() and fetch_file_list() against a real MirrorServer over loopback."""

import hashlib
import random
import re
import time
from pathlib import Path

import pytest

from hearcore.download import DownloadError
from hearpreprocess import filelist
from hearpreprocess.filelist import ListedFile, fetch_file_list, parse_manifest
from hearpreprocess.mirror import MirrorServer, mirror_location

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


def _url(i: int) -> str:
    return f"https://media.example.org/CREMA-D/master/AudioWAV/{1001 + i}_DFA_ANG_XX.wav"


def _path(i: int) -> str:
    """The request path of file i on the mirror."""
    return "/" + _url(i).split("://", 1)[1]


def _publish(root: Path, n: int, size=lambda i: 40 + (i * 37) % 300) -> list[ListedFile]:
    """Put n files on the mirror; returns their manifest entries."""
    files = []
    for i in range(n):
        data = random.Random(i).randbytes(size(i))
        mirror_location(root, _url(i)).write_bytes(data)
        files.append(ListedFile(_url(i), len(data), hashlib.sha256(data).hexdigest()))
    return files


def _gets(server) -> list[tuple[str, str | None]]:
    return [
        (path, byte_range) for method, path, byte_range in server.requests_log if method == "GET"
    ]


def _fetch(files, dest, server, **kwargs):
    kwargs = {"progress": False, "backoff": 0.01, **kwargs}
    return fetch_file_list(files, dest, mirror=server.url, **kwargs)


def _assert_complete(dest: Path, files, root: Path) -> None:
    assert sorted(p.name for p in dest.iterdir()) == sorted(f.filename for f in files)
    for f in files:
        assert (dest / f.filename).read_bytes() == mirror_location(root, f.url).read_bytes()
    assert not dest.with_name(dest.name + ".partial").exists()


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "mirror"
    path.mkdir()
    return path


@pytest.fixture
def server(root):
    with MirrorServer(root) as srv:
        yield srv


@pytest.fixture
def dest(tmp_path):
    return tmp_path / "sources" / "file_list-x"


# --- parse_manifest ---------------------------------------------------------------------------


def test_parse_manifest_tfds_format():
    text = (
        "# CREMA-D audio\n"
        "\n"
        f"https://h.org/a/1001_DFA_ANG_XX.wav\t55340\t{SHA_A}\t1001_DFA_ANG_XX.wav\n"
        f"  https://h.org/a/1001_DFA_DIS_XX.wav   0  {SHA_B.upper()}  \n"
        "   # indented comment\n"
        f"http://h.org/b/c.wav?download=1 7 {SHA_A}\n"
    )
    assert parse_manifest(text, "crema_d.txt") == [
        ListedFile("https://h.org/a/1001_DFA_ANG_XX.wav", 55340, SHA_A),
        ListedFile("https://h.org/a/1001_DFA_DIS_XX.wav", 0, SHA_B),
        ListedFile("http://h.org/b/c.wav?download=1", 7, SHA_A),
    ]
    assert parse_manifest(text, "crema_d.txt")[2].filename == "c.wav"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("https://h.org/a.wav 12", r"line 2: expected `URL SIZE SHA256`.*got 2 field"),
        (f"https://h.org/a.wav 12 {SHA_A} a.wav extra", "got 5 field"),
        (f"https://h.org/a.wav 12.5 {SHA_A}", r"line 2: expected the size in bytes.*'12\.5'"),
        (f"https://h.org/a.wav -3 {SHA_A}", "size in bytes"),
        ("https://h.org/a.wav 12 abc", r"line 2: expected a sha256 \(64 hex digits\), got 'abc'"),
        (f"https://h.org/a.wav 12 {'g' * 64}", "expected a sha256"),
        (f"ftp://h.org/a.wav 12 {SHA_A}", "expected an http.s. URL"),
        (f"h.org/a.wav 12 {SHA_A}", "expected an http.s. URL"),
        (f"https://h.org/dir/ 12 {SHA_A}", "does not end in a file name"),
    ],
)
def test_parse_manifest_malformed_line(line, expected):
    text = f"https://h.org/first.wav 1 {SHA_B}\n{line}\n"
    with pytest.raises(ValueError, match=expected) as info:
        parse_manifest(text, "manifest.tsv")
    assert str(info.value).startswith("manifest.tsv, line 2")


def test_parse_manifest_duplicate_file_name():
    text = f"https://h.org/a/x.wav 1 {SHA_A}\n# c\nhttps://other.org/b/x.wav 1 {SHA_B}\n"
    with pytest.raises(ValueError, match=r"m\.txt, lines 1 and 3: two entries named 'x\.wav'"):
        parse_manifest(text, "m.txt")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_parse_manifest_empty(text):
    with pytest.raises(ValueError, match="m.txt lists no files"):
        parse_manifest(text, "m.txt")


# --- fetch_file_list ------------------------------------------------------------------------


def test_fetches_hundreds_of_files(root, server, dest):
    files = _publish(root, 300, size=lambda i: i % 97)  # includes empty files
    assert _fetch(files, dest, server) == dest
    _assert_complete(dest, files, root)
    assert sorted(_gets(server)) == sorted((_path(i), None) for i in range(300))


def test_truncated_body_and_503s_are_retried(root, server, dest):
    files = _publish(root, 40, size=lambda i: 2000)
    server.fail_first_n_requests = 5
    server.cut_after_bytes = 700
    _fetch(files, dest, server, workers=4)
    _assert_complete(dest, files, root)
    gets = _gets(server)
    assert len(gets) == 40 + 5 + 1
    assert [byte_range for _, byte_range in gets].count("bytes=700-") == 1


def test_corrupt_file_is_reported_and_nothing_lands_in_dest(root, server, dest):
    files = _publish(root, 20)
    files[7] = ListedFile(files[7].url, files[7].size, SHA_A)
    with pytest.raises(DownloadError) as info:
        _fetch(files, dest, server, task="tfds_crema_d")
    message = str(info.value)
    assert message.startswith("task tfds_crema_d: 1 of 20 listed files")
    assert f"{_url(7)}: sha256 mismatch: expected {SHA_A}" in message
    assert "rerun continues where this one stopped" in message
    assert not dest.exists()
    staging = dest.with_name(dest.name + ".partial")
    assert sorted(p.name for p in staging.iterdir()) == sorted(
        f.filename for i, f in enumerate(files) if i != 7
    )


def test_rerun_fetches_only_what_is_missing(root, server, dest):
    files = _publish(root, 30, size=lambda i: 1500)
    missing = mirror_location(root, _url(3))
    content = missing.read_bytes()
    missing.unlink()  # 404 on the first run
    good_sha = files[7].sha256
    files[7] = ListedFile(files[7].url, files[7].size, SHA_A)  # a wrong manifest entry
    with pytest.raises(DownloadError, match=r"2 of 30 .*HTTP 404") as info:
        _fetch(files, dest, server)
    assert _url(3) in str(info.value) and _url(7) in str(info.value)
    assert not dest.exists()

    # Fix both, and cut one staged file short as a crash would have left it.
    missing.write_bytes(content)
    files[7] = ListedFile(files[7].url, files[7].size, good_sha)
    staged = dest.with_name(dest.name + ".partial") / files[9].filename
    staged.with_name(staged.name + ".part").write_bytes(staged.read_bytes()[:600])
    staged.unlink()
    server.requests_log.clear()
    _fetch(files, dest, server)
    _assert_complete(dest, files, root)
    assert sorted(_gets(server)) == [(_path(3), None), (_path(7), None), (_path(9), "bytes=600-")]


def test_downloads_happen_concurrently(root, dest):
    files = _publish(root, 64)
    latency = 0.05
    with MirrorServer(root, latency_seconds=latency) as srv:
        start = time.perf_counter()
        _fetch(files, dest, srv)
        wall = time.perf_counter() - start
    _assert_complete(dest, files, root)
    serial = len(files) * latency  # the latency alone, one request after another
    assert wall < 0.5 * serial, f"{wall:.2f} s for 64 files: not concurrent (serial {serial} s)"


def test_latency_delays_each_response(root, dest):
    files = _publish(root, 3)
    with MirrorServer(root, latency_seconds=0.1) as srv:
        start = time.perf_counter()
        _fetch(files, dest, srv, workers=1)
        assert time.perf_counter() - start >= 0.3


def test_no_file_of_dest_exists_until_all_are_verified(root, server, dest, monkeypatch):
    files = _publish(root, 50)
    seen_dest = []
    real_download = filelist.download

    def watching_download(*args, **kwargs):
        seen_dest.append(dest.exists())
        return real_download(*args, **kwargs)

    monkeypatch.setattr(filelist, "download", watching_download)
    _fetch(files, dest, server)
    assert seen_dest == [False] * 50
    _assert_complete(dest, files, root)


def test_existing_dest_is_returned_without_requests(root, server, dest):
    files = _publish(root, 5)
    dest.mkdir(parents=True)
    assert _fetch(files, dest, server) == dest
    assert server.requests_log == []


def test_staged_files_not_in_the_list_are_removed(root, server, dest):
    files = _publish(root, 5)
    staging = dest.with_name(dest.name + ".partial")
    (staging / "old_dir").mkdir(parents=True)
    (staging / "old.wav").write_bytes(b"x")
    (staging / "old.wav.part").write_bytes(b"x")
    _fetch(files, dest, server)
    _assert_complete(dest, files, root)


def test_stops_early_when_everything_fails(root, server, dest):
    files = [ListedFile(_url(i), 10, SHA_A) for i in range(200)]  # none on the mirror
    with pytest.raises(DownloadError) as info:
        _fetch(files, dest, server, workers=4)
    message = str(info.value)
    assert "of 200 listed files" in message and "were not tried" in message
    assert re.search(r"; and \d+ more\)", message)  # 10 failures at least, 5 of them named
    assert len(_gets(server)) < 20
    assert not dest.exists()


def test_duplicate_file_names_are_refused(server, dest):
    files = [
        ListedFile("https://a.org/x.wav", 1, SHA_A),
        ListedFile("https://b.org/x.wav", 1, SHA_B),
    ]
    with pytest.raises(ValueError, match="would both be saved as 'x.wav'"):
        _fetch(files, dest, server)
    assert server.requests_log == []


def test_workers_must_be_positive(server, dest):
    with pytest.raises(ValueError, match="workers"):
        _fetch([], dest, server, workers=0)


def test_one_progress_bar_counting_files(root, server, dest, capsys):
    files = _publish(root, 20)
    _fetch(files, dest, server, progress=True, task="tfds_crema_d")
    err = capsys.readouterr().err
    assert "tfds_crema_d" in err and "20/20" in err and "MB" in err
    assert files[0].filename not in err  # no bar per file
