"""The layers of ARCHITECTURE.md, checked on the source: every import (at the top of a module or inside a
function) points down or sideways within its own package, nothing imports the CLI, the karaoke engine never
reaches torch, and no modules import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "composer"

# lowest first; a package may import its own modules and those of any package on a lower rank
RANK = {"util": 0, "media": 1, "karaoke": 2, "models": 2, "synthetic": 3, "band": 4, "stream": 5, "batch": 6, "cli": 7}
BASE = {"composer", "composer.types", "composer.errors"}  # the shared vocabulary, importable from anywhere
HEAVY = ("torch", "transformers", "ray")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from composer.media import sidecars` imports the module composer.media.sidecars
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


GRAPH = {_module_name(p): _imports(p) for p in ROOT.rglob("*.py")}


def _ours(name: str) -> str | None:
    """The module of ours ``name`` refers to (a name imported from a module is that module)."""
    while name and name not in GRAPH:
        name = name.rpartition(".")[0]
    return name or None


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def _edges(module: str) -> set[str]:
    return {t for t in (_ours(n) for n in GRAPH[module] if n.startswith("composer")) if t and t != module}


def test_every_module_sits_in_a_layer():
    loose = sorted(m for m in GRAPH if m.count(".") == 1 and _package(m) is None)
    assert loose == ["composer.__main__", "composer.errors", "composer.testing", "composer.types"]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _package(m)))
def test_imports_point_down(module):
    here = _package(module)
    for target in _edges(module):
        there = _package(target)
        if target in BASE or there == here:
            continue
        assert there is not None and RANK[there] < RANK[here], f"{module} imports {target} (a layer not below it)"


def test_nothing_imports_the_cli_or_the_test_fixtures():
    for module in GRAPH:
        targets = _edges(module)
        if module != "composer.__main__":
            assert "composer.cli" not in targets, module
        assert "composer.testing" not in targets, module


def _reach(module: str) -> set[str]:
    seen, stack = set(), [module]
    while stack:
        for target in _edges(stack.pop()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _package(m) in ("util", "media", "karaoke")))
def test_the_karaoke_engine_never_reaches_torch(module):
    for reached in _reach(module) | {module}:
        heavy = sorted(n for n in GRAPH[reached] if n.split(".")[0] in HEAVY)
        assert not heavy, f"{module} reaches {reached}, which imports {heavy}"


def test_no_import_cycles():
    cycles = sorted(m for m in GRAPH if m not in BASE and m in _reach(m))
    assert cycles == [], f"modules that import themselves through others: {cycles}"


def test_the_public_api_resolves_after_every_package_is_imported():
    """A lazy name of ``composer`` must not be shadowed by a subpackage of the same name."""
    import importlib

    import composer

    for module in GRAPH:
        if module != "composer.__main__":
            importlib.import_module(module)
    from composer.karaoke.engine import karaoke

    assert composer.render_karaoke is karaoke
    for name in composer.__all__:
        assert not isinstance(getattr(composer, name), type(composer)), f"composer.{name} is a module"
