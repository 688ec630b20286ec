"""The repository's docs stand alone.

No source, test, config or Markdown file of the repository may send a reader to a document that
does not ship with it (the fact sheets this project was written from lie outside it), and every
relative link in README.md and docs/*.md must point to a file (and heading) that exists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".py", ".md", ".toml")
# Spelt in pieces so that this file does not match itself.
ABSENT_DOCUMENTS = tuple(
    f"{name}.{'md'}" for name in ("EVAL", "TASKS", "FORMAT", "DESIGN", "LUIGI", "STYLE")
) + ("/".join(("shared", "docs")),)

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def repository_files() -> list[Path]:
    """Tracked files plus new ones git does not ignore (a walk of the tree where git is absent)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        paths = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if ".git" not in p.parts and "egg-info" not in str(p)]
    return sorted(p for p in paths if p.suffix in SUFFIXES and p.is_file())


# Case-sensitive, and not the end of a longer name: docs/tasks.md is ours and fine.
CITATION = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, ABSENT_DOCUMENTS)) + ")")


def citations(text: str) -> list[tuple[int, str]]:
    """(line number, document) of every mention of an absent document in `text`."""
    return [
        (number, match.group(1))
        for number, line in enumerate(text.splitlines(), start=1)
        for match in CITATION.finditer(line)
    ]


def doc_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as '-'."""
    text = INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(h) for h in HEADING.findall(text)}


def relative_links(path: Path) -> list[str]:
    """Link targets of a Markdown file that are not URLs (code blocks and spans left out)."""
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    targets = LINK.findall(text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def broken_links(path: Path) -> list[str]:
    """The relative links of `path` whose file, or heading, does not exist."""
    broken = []
    for target in relative_links(path):
        name, _, anchor = target.partition("#")
        linked = (path.parent / name).resolve() if name else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.name})")
    return broken


def test_no_file_cites_a_document_outside_the_repository():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {document}"
        for path in repository_files()
        for number, document in citations(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, (
        "these lines cite documents that are not in the repository; state the fact itself or "
        "point to a doc under docs/:\n" + "\n".join(offenders)
    )


def test_the_citation_check_finds_a_citation():
    line = "see " + ABSENT_DOCUMENTS[0] + " §3"
    assert citations("first line\n" + line) == [(2, ABSENT_DOCUMENTS[0])]
    assert citations("../" + ABSENT_DOCUMENTS[-1] + "/x") == [(1, ABSENT_DOCUMENTS[-1])]
    assert citations("docs/protocol.md and docs/tasks.md") == []


def test_the_files_checked_include_the_sources_and_the_docs():
    names = {p.relative_to(ROOT).as_posix() for p in repository_files()}
    assert {"README.md", "hearcore/cli.py", "tests/test_docs.py"} <= names
    assert any(
        name.startswith("hearpreprocess/recipes/") for name in names if name.endswith(".toml")
    )


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(path):
    assert not broken_links(path), f"{path.relative_to(ROOT)}: broken links: {broken_links(path)}"


def test_the_link_check_finds_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("# A heading `x`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading-x) [web](https://example.org/x) [self](#top)\n"
        "# Top\n[gone](missing.md) [bad anchor](there.md#nowhere)\n`[code](nowhere.md)`\n"
    )
    assert broken_links(page) == [
        "missing.md (no such file)",
        "there.md#nowhere (no heading #nowhere in there.md)",
    ]


def test_the_readme_links_the_user_docs():
    links = set(relative_links(ROOT / "README.md"))
    for doc in ("docs/protocol.md", "docs/tasks.md", "docs/exit-codes.md"):
        assert doc in links, f"README.md does not link {doc}"
