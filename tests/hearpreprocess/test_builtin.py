"""The built-in example corpus: reproducible bytes, pinned md5, served on loopback."""

from hearcore.download import download
from hearpreprocess.builtin import is_builtin, resolve_url, serve_builtin_corpora
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.config import load_task_config


def test_generator_reproduces_the_pinned_md5(tmp_path):
    config = load_task_config("tones")
    assert write_archive(tmp_path / "a.zip") == config.sources[0].md5
    write_archive(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_builtin_corpus_is_served_and_downloads_with_its_checksum(tmp_path):
    config = load_task_config("tones", "small")
    source = config.sources[0]
    assert is_builtin(source.url)
    with serve_builtin_corpora([config], tmp_path / "mirror") as url:
        assert url.startswith("http://127.0.0.1:")
        local = resolve_url(source.url, mirror="http://elsewhere.invalid", builtin_mirror=url)
        assert local.startswith(url)
        out = download(local, tmp_path / source.filename, source.md5, progress=False)
    assert out.stat().st_size > 0


def test_non_builtin_urls_follow_the_user_mirror():
    url = "https://github.com/a/b/raw/main/x.zip?download=1"
    assert not is_builtin(url)
    assert resolve_url(url, None, "http://127.0.0.1:1") == url
    assert resolve_url(url, "http://m", None) == "http://m/github.com/a/b/raw/main/x.zip"


def test_no_server_without_builtin_sources(tmp_path):
    with serve_builtin_corpora([], tmp_path) as url:
        assert url is None
