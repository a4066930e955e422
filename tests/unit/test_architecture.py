"""ARCHITECTURE.md's package map names every module and package of balancerd/, and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[a-z_0-9]+(?:/|\.py))(?:\s|$)")


def map_lines(text: str) -> list[str]:
    """The lines of the fenced block right after the '## Package map' heading."""
    section = text.split("## Package map", 1)[1]
    return section.split("```", 2)[1].splitlines()


def listed_paths(lines: list[str]) -> set[str]:
    """Paths the map names, built from its two-space indentation (``balancerd/`` at depth 0)."""
    stack: list[str] = []
    paths: set[str] = set()
    for line in lines:
        found = _ENTRY.match(line)
        if found is None:
            continue
        depth = len(found["indent"]) // 2
        stack[depth:] = [found["name"].rstrip("/")]
        paths.add("/".join(stack))
    return paths


def tree_paths(package: Path) -> set[str]:
    """Every module (``__init__.py`` of sub-packages aside) and every package under ``package``."""
    found = {package.name, f"{package.name}/__init__.py"}
    for path in package.rglob("*.py"):
        rel = path.relative_to(package.parent)
        if path.name != "__init__.py" or path.parent == package:
            found.add(rel.as_posix())
        found.update(parent.as_posix() for parent in rel.parents if parent.as_posix() not in (".", ""))
    return found


def test_the_map_parser_reads_nesting() -> None:
    lines = ["balancerd/", "  cli.py   the CLI", "  backends/", "    sim/", "      cluster.py   x", "  model.py"]
    assert listed_paths(lines) == {"balancerd", "balancerd/cli.py", "balancerd/backends", "balancerd/backends/sim",
                                   "balancerd/backends/sim/cluster.py", "balancerd/model.py"}


def test_package_map_matches_the_tree() -> None:
    listed = listed_paths(map_lines((ROOT / "ARCHITECTURE.md").read_text()))
    actual = tree_paths(ROOT / "balancerd")
    assert sorted(actual - listed) == [], "modules missing from ARCHITECTURE.md's package map"
    assert sorted(listed - actual) == [], "ARCHITECTURE.md's package map names modules that do not exist"
