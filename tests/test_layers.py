"""The layering the README's Architecture section promises, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTER_FILES = sorted([*ROOT.glob("langchain_a2agent/*.py"), *ROOT.glob("llama_index_a2agent/*.py")])
ALLOWED = {"a2agent", "a2agent.types", "a2agent.integration"}


def _imports(path: Path) -> set[str]:
    """Modules imported at run time (imports under ``if TYPE_CHECKING:`` are for annotations only)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", ADAPTER_FILES, ids=[f"{p.parent.name}/{p.name}" for p in ADAPTER_FILES])
def test_adapters_use_only_the_public_core_and_its_integration_module(path: Path) -> None:
    core = {name for name in _imports(path) if name == "a2agent" or name.startswith("a2agent.")}
    assert core <= ALLOWED, f"{path.name} imports private core modules: {sorted(core - ALLOWED)}"


@pytest.mark.parametrize(("library", "importers"), [("httpx", ["_transport.py"]),
                                                   ("httpcore", ["_pool.py", "_transport.py"]),
                                                   ("anyio", ["_pool.py"])])
def test_http_libraries_stay_at_the_http_boundary(library: str, importers: list[str]) -> None:
    """httpx only in the transport; httpcore (httpx's own) in the transport, whose owned pools are
    spoken to in httpcore's request and response, and in the async pool; anyio only in the async pool."""
    assert sorted(p.name for p in (ROOT / "a2agent").glob("*.py") if library in _imports(p)) == importers
