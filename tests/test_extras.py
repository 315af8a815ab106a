"""A part of the package used without its extra says which extra to install (never a bare ImportError)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each case hides one dependency (sys.modules[name] = None makes importing it fail as if absent)
# in a fresh interpreter, then uses the part that needs it.
CASES = [
    ("starlette", "from a2agent.emulator import run_emulator", "a2agent[emulator]"),
    ("uvicorn", "from a2agent.emulator import EmulatorServer", "a2agent[emulator]"),
    ("langchain_core", "import langchain_a2agent", "a2agent[langchain]"),
    ("llama_index.core", "from llama_index_a2agent import A2AgentLLM", "a2agent[llama-index]"),
]


@pytest.mark.parametrize(("hidden", "code", "extra"), CASES, ids=[c[0] for c in CASES])
def test_missing_extra_names_the_extra(hidden: str, code: str, extra: str) -> None:
    script = (f"import sys; sys.modules[{hidden!r}] = None\n"
              f"try:\n    {code}\nexcept ModuleNotFoundError as exc:\n    print(type(exc).__name__, exc)\n"
              "else:\n    print('imported')")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ModuleNotFoundError"), out.stdout
    assert f"pip install '{extra}'" in out.stdout


def test_emulator_command_without_its_extra_exits_with_one_line() -> None:
    script = ("import runpy, sys; sys.modules['uvicorn'] = None; sys.argv = ['a2agent.emulator']\n"
              "runpy.run_module('a2agent.emulator', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2  # a setup error, as `a2agent emulator` says it (1 is an API or network error)
    assert "pip install 'a2agent[emulator]'" in out.stderr and "Traceback" not in out.stderr


def test_core_works_without_any_extra() -> None:
    script = ("import sys\nfor name in ('starlette', 'uvicorn', 'langchain_core', 'llama_index.core'):\n"
              "    sys.modules[name] = None\n"
              "import a2agent\nfrom a2agent.emulator import ensure_endpoint\n"
              "client = a2agent.A2AgentClient(api_key='sk-core-only-0123456789')\nprint(client.base_url)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "https://api.a2agent.me/v1"
