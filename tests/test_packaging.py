"""The wheel as users get it: built once, installed into a fresh virtual environment per extra.

Each extra brings what it promises and nothing of the others (a LangChain user never installs
LlamaIndex, and the other way round), the emulator extra alone runs ``python -m a2agent.emulator``,
type checkers see every package as typed (``py.typed``), and the metadata carries what indexes show.

uv installs from its cache first (``--offline``: the packages ``make setup`` installed are there,
so this needs no registry and takes seconds); only what the cache lacks is fetched, and a failure of
both is a test failure with uv's own words, never a skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

from a2agent import A2AgentClient, APIConnectionError
from tests.test_readme import _free_port as free_port

ROOT = Path(__file__).parent.parent
KEY = "sk-packaging-test-0123456789"
BOUND = 60.0  # guards against a hang only; never a measurement
TYPED = ["a2agent", "langchain_a2agent", "llama_index_a2agent", "llama_index/llms/a2agent"]


@dataclass(frozen=True)
class Case:
    extra: str  # "" for the core alone
    works: str  # Python that must run in the environment and print something
    absent: tuple[str, ...]  # modules this extra must not bring
    refused: str  # an import that must fail, naming the extra that brings it
    refused_extra: str


CASES = [
    Case("", "import a2agent; print(a2agent.A2AgentClient(api_key=KEY).base_url)",
         ("langchain_core", "llama_index.core", "starlette", "uvicorn"), "from a2agent.emulator import run_emulator",
         "emulator"),
    Case("langchain", "from langchain_a2agent import ChatA2Agent; print(ChatA2Agent(api_key=KEY).model_name)",
         ("llama_index.core", "starlette", "uvicorn"), "import llama_index.llms.a2agent", "llama-index"),
    Case("llama-index", "import llama_index_a2agent\nfrom llama_index.llms.a2agent import A2AgentLLM\n"
                        "assert A2AgentLLM is llama_index_a2agent.A2AgentLLM\nprint(A2AgentLLM(api_key=KEY).model)",
         ("langchain_core", "starlette", "uvicorn"), "import langchain_a2agent", "langchain"),
    Case("emulator", "from a2agent.emulator import EmulatorServer; print(EmulatorServer.__name__)",
         ("langchain_core", "llama_index.core"), "import langchain_a2agent", "langchain"),
]
IDS = [case.extra or "core" for case in CASES]

# Run in each environment: the case's code, then which of its absent modules can be found, then the
# refused import's error (JSON on the last line).
PROBE = """
import importlib.util, json, sys
KEY = {key!r}
{works}
found = [name for name in {absent!r} if importlib.util.find_spec(name) is not None]
try:
    exec({refused!r})
    refused = None
except ModuleNotFoundError as exc:
    refused = str(exc)
print(json.dumps({{"found": found, "refused": refused}}))
"""


def _uv_binary() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed: run `make setup` (it installs uv into .venv)")
    return uv


def _uv(*args: str) -> None:
    """``uv ARGS`` from the cache alone, else once more with the registry; fails with both outputs."""
    uv = _uv_binary()
    offline = subprocess.run([uv, *args, "--offline"], capture_output=True, text=True, timeout=600)
    if offline.returncode == 0:
        return
    online = subprocess.run([uv, *args], capture_output=True, text=True, timeout=600)
    if online.returncode != 0:
        pytest.fail(f"uv {' '.join(args)} failed from the cache:\n{offline.stderr}\n"
                    f"and with the registry:\n{online.stderr}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _uv("build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT))
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def pythons(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """extra -> the python of a fresh environment holding the wheel with that extra (all built at once)."""
    root = tmp_path_factory.mktemp("venvs")

    def install(extra: str) -> Path:
        venv = root / (extra or "core")
        _uv("venv", "--quiet", "--python", sys.executable, str(venv))
        python = venv / "bin" / "python"
        requirement = f"a2agent{f'[{extra}]' if extra else ''} @ {wheel.as_uri()}"
        _uv("pip", "install", "--quiet", "--python", str(python), requirement)
        return python

    extras = [case.extra for case in CASES]
    with ThreadPoolExecutor(len(extras)) as pool:
        return dict(zip(extras, pool.map(install, extras), strict=True))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_each_extra_installs_alone(case: Case, pythons: dict[str, Path]) -> None:
    code = PROBE.format(key=KEY, works=case.works, absent=list(case.absent), refused=case.refused)
    result = subprocess.run([pythons[case.extra], "-c", code], capture_output=True, text=True, timeout=BOUND,
                            cwd=pythons[case.extra].parent)  # not ROOT: the checkout's packages must not shadow
    assert result.returncode == 0, result.stderr
    *printed, report = result.stdout.splitlines()
    assert printed and all(printed)
    outcome = json.loads(report)
    assert outcome["found"] == [], f"a2agent[{case.extra}] brought {outcome['found']}"
    assert outcome["refused"] is not None and f"pip install 'a2agent[{case.refused_extra}]'" in outcome["refused"]


def test_the_emulator_extra_runs_the_emulator(pythons: dict[str, Path]) -> None:
    port = free_port()
    proc = subprocess.Popen([pythons["emulator"], "-m", "a2agent.emulator", "--port", str(port)],
                            cwd=pythons["emulator"].parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.startswith(f"a2agent emulator on http://127.0.0.1:{port}/v1"), banner + proc.communicate()[1]
        models = list(_models_when_up(f"http://127.0.0.1:{port}/v1", proc))
    finally:
        proc.terminate()
        proc.wait(timeout=BOUND)
    assert "glm-5" in models and "deepseek-chat" in models


def test_the_core_alone_says_which_extra_runs_the_emulator(pythons: dict[str, Path]) -> None:
    result = subprocess.run([pythons[""], "-m", "a2agent.emulator"], capture_output=True, text=True,
                            timeout=BOUND, cwd=pythons[""].parent)
    assert result.returncode == 2  # a setup error, as `a2agent emulator` says it
    assert "pip install 'a2agent[emulator]'" in result.stderr and "Traceback" not in result.stderr
    version = subprocess.run([pythons[""].parent / "a2agent", "--version"], capture_output=True, text=True,
                             timeout=BOUND)
    assert version.returncode == 0 and "0.1.0" in version.stdout, version.stderr


@pytest.mark.parametrize(("extra", "imports"), [
    ("langchain", "import a2agent\nimport langchain_a2agent\n"),
    ("llama-index", "import a2agent\nimport llama_index_a2agent\nimport llama_index.llms.a2agent\n"),
], ids=["langchain", "llama-index"])
def test_type_checkers_see_typed_packages(extra: str, imports: str, pythons: dict[str, Path],
                                          tmp_path: Path) -> None:
    """mypy, pointed at the installed wheel, finds a ``py.typed`` marker for every package (the
    namespace path ``llama_index.llms.a2agent`` included) instead of treating them as untyped."""
    source = tmp_path / "uses.py"
    source.write_text(imports)
    mypy = [sys.executable, "-m", "mypy", "--python-executable", str(pythons[extra]), "--follow-imports=skip",
            "--no-incremental", "--cache-dir", str(tmp_path / "cache"), "--config-file", "", str(source)]
    result = subprocess.run(mypy, capture_output=True, text=True, timeout=BOUND * 2, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_holds_markers_and_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert {f"{package}/py.typed" for package in TYPED} <= names
    assert {name.split("/")[0] for name in names if not name.endswith(".dist-info/RECORD")} - {
        "a2agent", "langchain_a2agent", "llama_index_a2agent", "llama_index", metadata_name.split("/")[0]} == set()
    assert "llama_index/__init__.py" not in names and "llama_index/llms/__init__.py" not in names  # namespaces
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or [])
    assert urls["Homepage"].startswith("https://") and urls["Documentation"].startswith("https://")
    assert metadata["License-Expression"] == "MIT" and metadata["License-File"] == "LICENSE"
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])
    assert set(metadata.get_all("Provides-Extra") or []) >= {"langchain", "llama-index", "emulator", "redis", "all"}


def test_the_readme_extras_table_is_the_pyproject_extras() -> None:
    """The Install table lists every extra with the distributions it brings, as pyproject declares them."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = (ROOT / "README.md").read_text().split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    table = {extra: brings.strip() for extra, brings in re.findall(r"^\| `([\w-]+)` \| ([^|]+) \|", install, re.M)}
    assert set(table) == set(extras)
    (everything,) = extras.pop("all")
    assert set(everything.removeprefix("a2agent[").removesuffix("]").split(",")) == set(extras)
    assert table["all"] == "all of the above"
    for extra, requirements in extras.items():
        assert table[extra] == ", ".join(re.split(r"[<>=\[ ]", r, maxsplit=1)[0] for r in requirements), extra


def _models_when_up(base_url: str, proc: subprocess.Popen[str]) -> Iterator[str]:
    """The model ids of ``GET /v1/models``, once the server accepts (the banner comes just before it
    listens). The deadline only bounds a hang; a process that exited fails at once."""
    deadline = time.monotonic() + BOUND
    with A2AgentClient(base_url=base_url, api_key="sk-a2agent-emulator", max_retries=0) as client:
        while True:
            try:
                yield from (model["id"] for model in client.list_models())
                return
            except APIConnectionError:
                assert proc.poll() is None, f"the emulator exited: {proc.communicate()[1]}"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
