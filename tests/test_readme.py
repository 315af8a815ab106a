"""Every code block in the README runs as written (python blocks against a live emulator)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from a2agent.emulator import EmulatorServer

ROOT = Path(__file__).parent.parent
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
BLOCKS = [(lang, code) for lang, code in BLOCK.findall((ROOT / "README.md").read_text()) if lang in ("python", "bash")]
# Commands that would recurse into this very test run are checked as dry runs instead.
DRY_RUN = {"make test": "make -n test"}
# A fixed port collides with other suites running on the same machine: servers take a free one.
FIXED_PORT = re.compile(r"--port \d+")


def _env(emu: EmulatorServer) -> dict[str, str]:
    env = {**os.environ, "A2AGENT_API_KEY": emu.api_key, "A2AGENT_BASE_URL": emu.base_url}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # python / pip of this venv
    return env


def test_readme_has_the_blocks_it_promises() -> None:
    langs = [lang for lang, _ in BLOCKS]
    assert langs.count("python") >= 4 and langs.count("bash") >= 4
    commands = {line.strip() for lang, code in BLOCKS if lang == "bash" for line in code.splitlines()}
    assert {"make demo", "make test"} <= commands


@pytest.mark.parametrize(("lang", "code"), BLOCKS, ids=[f"{i}-{lang}" for i, (lang, _) in enumerate(BLOCKS)])
def test_readme_block_runs(lang: str, code: str, a2agent_emulator: EmulatorServer) -> None:
    env = _env(a2agent_emulator)
    if lang == "python":
        result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        return
    for line in filter(None, (raw.strip() for raw in code.splitlines())):
        command = FIXED_PORT.sub("--port 0", DRY_RUN.get(line, line))
        result = subprocess.run(["bash", "-c", command], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, f"{shlex.quote(command)} failed:\n{result.stdout}\n{result.stderr}"
