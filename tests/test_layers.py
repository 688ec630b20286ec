"""The three layers import only downwards: hearcore <- hearpreprocess, hearcore <- heareval.

Every import statement of every module is read (lazy imports inside functions included), so a
shortcut from one stage into the other fails here rather than at a user's install.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
FORBIDDEN = {
    "hearcore": {"hearpreprocess", "heareval"},
    "heareval": {"hearpreprocess"},
    "hearpreprocess": {"heareval"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every absolute import in the module at `path`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_crosses_the_layers(package):
    modules = sorted((REPO / package).rglob("*.py"))
    assert modules, f"no modules found under {REPO / package}"
    crossings = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules
        for name in sorted(imported_packages(path) & FORBIDDEN[package])
    ]
    assert crossings == []


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from hearpreprocess.audio import resample\n    import heareval\n"
    )
    assert imported_packages(module) == {"hearpreprocess", "heareval"}
