"""Every notebook runs in a fresh kernel against the emulator, and prints exactly what it stores.

The stored outputs are what a reader sees on GitHub before running anything, so they must be what
a run gives today: a notebook whose fresh text outputs differ from its stored ones fails, with a
diff per cell. The kernel starts with no ``A2AGENT_*`` variables, so ``ensure_endpoint()`` starts
the emulator, whose answers are deterministic.

After an intended change (new cells, new emulator answers), refresh the stored outputs with
``make notebooks-refresh`` (``A2AGENT_REFRESH_NOTEBOOKS=1``), then review the diff before committing.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
REFRESH = os.environ.get("A2AGENT_REFRESH_NOTEBOOKS") == "1"

# What legitimately changes from run to run is replaced before storing and before comparing.
VOLATILE = [
    (re.compile(r"(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(r"0x[0-9a-f]{6,}"), "0x<address>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b(chatcmpl|msg)[-_][0-9a-f]{24}\b"), r"\1-<id>"),
    (re.compile(re.escape(str(ROOT))), "<repo>"),
]


def normalize(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def cell_text(cell: Any) -> str:
    """A code cell's outputs as the text a reader sees (stdout, stderr, results, errors). How the
    kernel splits a stream into messages depends on timing, so consecutive stream text is joined."""
    parts = []
    previous = None
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            label = "" if previous == out["name"] else f"[{out['name']}] "
            parts.append(label + out["text"])
            previous = out["name"]
            continue
        previous = None
        if kind in ("execute_result", "display_data"):
            parts.append(str(out.get("data", {}).get("text/plain", "")) + "\n")
        elif kind == "error":
            parts.append(f"[error] {out['ename']}: {out['evalue']}\n")
    return normalize("".join(parts))


def _normalize_outputs(nb: Any) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        merged: list[Any] = []
        for out in cell.outputs:  # one stream output per run of stream messages, as a reader sees it
            if merged and out["output_type"] == "stream" == merged[-1]["output_type"] \
                    and out["name"] == merged[-1]["name"]:
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        cell.outputs = merged
        for out in cell.outputs:
            if out["output_type"] == "stream":
                out["text"] = normalize(out["text"])
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/"):
                    out["data"][mime] = normalize(value if isinstance(value, str) else "".join(value))


def _diff(path: Path, stored: Any, fresh: Any) -> str:
    report = []
    for i, (old, new) in enumerate(zip(stored.cells, fresh.cells, strict=True)):
        if old.cell_type != "code" or cell_text(old) == cell_text(new):
            continue
        first_line = old.source.splitlines()[0] if old.source else ""
        report.append(f"cell {i} ({first_line!r}):")
        report.extend(difflib.unified_diff(cell_text(old).splitlines(), cell_text(new).splitlines(),
                                           "stored", "fresh run", lineterm=""))
    return f"{path.relative_to(ROOT)}: outputs changed (refresh with `make notebooks-refresh`)\n" + "\n".join(report)


def test_every_notebook_says_what_it_needs() -> None:
    assert len(NOTEBOOKS) >= 10
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        intro = nb.cells[0].source
        assert nb.cells[0].cell_type == "markdown" and "pip install" in intro, path
        assert "emulator" in intro, f"{path}: say what the emulator is and that real output differs"
        sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "assert " not in sources, f"{path}: assertions belong in tests"
        other = {"langchain": "llama_index", "llama_index": "langchain", "core": "llama_index"}[path.parent.name]
        assert other not in sources and (path.parent.name != "core" or "langchain" not in sources), \
            f"{path} mixes frameworks: a user of one never installs the other"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "notebooks")) for p in NOTEBOOKS])
def test_notebook_outputs_are_current(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("A2AGENT_")]:
        monkeypatch.delenv(name)
    stored = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    NotebookClient(fresh, timeout=300, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    _normalize_outputs(fresh)
    if REFRESH:
        nbformat.write(fresh, path)
        return
    assert len(stored.cells) == len(fresh.cells)
    changed = [i for i, (a, b) in enumerate(zip(stored.cells, fresh.cells, strict=True))
               if a.cell_type == "code" and cell_text(a) != cell_text(b)]
    assert not changed, _diff(path, stored, fresh)
