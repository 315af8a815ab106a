"""Every code block in the README runs (python blocks against a live emulator).

The README is written for users, so its commands are the plain ones; this test, not the README,
turns the few that must not run as written into safe forms:

- ``pip install ...`` gets ``--dry-run`` (the test must not change the venv);
- ``python -m a2agent.emulator ...`` runs on a free port under a 3 s ``timeout`` (it serves forever);
- ``make test`` / ``make bench`` / ``make notebook`` / ``make notebooks-refresh`` become ``make -n``
  (recursion into this run, minutes of benchmarking, a server that blocks, rewriting notebooks);
- a block that starts a background job (``... &``, the "Try it without a key" block) runs as one
  script on a free port, waits for the port before the next line, and its output must be the one
  the README shows right after it.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from a2agent.emulator import EmulatorServer

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
ALL_BLOCKS = BLOCK.findall(README)
BLOCKS = [(lang, code) for lang, code in ALL_BLOCKS if lang in ("python", "bash")]
DRY_RUN = {f"make {target}": f"make -n {target}" for target in ("test", "bench", "notebook", "notebooks-refresh")}
EMULATOR = re.compile(r"^python -m a2agent\.emulator\b(.*)$")
PORT = re.compile(r"(--port |127\.0\.0\.1:)8765\b")
MAKE_NOTE = re.compile(r"make(\[\d+\])?: ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(emu: EmulatorServer | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("A2AGENT_")}
    if emu is not None:
        env.update(A2AGENT_API_KEY=emu.api_key, A2AGENT_BASE_URL=emu.base_url)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # python / pip of this venv
    return env


def safe_command(line: str) -> str:
    """The form of one README command that this test can run."""
    if line in DRY_RUN:
        return DRY_RUN[line]
    if line.startswith("pip install "):
        return line.replace("pip install ", "pip install --dry-run ", 1)
    emulator = EMULATOR.match(line)
    if emulator:
        args = PORT.sub(rf"\g<1>{_free_port()}", emulator.group(1))
        return f"timeout 3 python -m a2agent.emulator{args} || test $? -eq 124"
    return line


def test_readme_has_the_blocks_it_promises() -> None:
    langs = [lang for lang, _ in BLOCKS]
    assert langs.count("python") >= 4 and langs.count("bash") >= 4
    commands = {line.strip() for lang, code in BLOCKS if lang == "bash" for line in code.splitlines()}
    assert {"make demo", "make test", "make notebook", "source .venv/bin/activate"} <= commands


@pytest.mark.parametrize("name", ["langchain", "llama_index"])
def test_quickstart_files_are_the_readme_blocks(name: str) -> None:
    source = (ROOT / "examples" / f"quickstart_{name}.py").read_text()
    assert ("python", source) in BLOCKS, f"examples/quickstart_{name}.py differs from its README block"


def test_try_it_without_a_key_prints_what_the_readme_shows() -> None:
    index = next(i for i, (lang, code) in enumerate(ALL_BLOCKS) if lang == "bash" and "&\n" in code)
    code = ALL_BLOCKS[index][1]
    shown_lang, shown = ALL_BLOCKS[index + 1]
    assert shown_lang == "text"
    port = _free_port()
    lines = ["set -e", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for line in filter(None, (raw.strip() for raw in code.splitlines())):
        lines.append(PORT.sub(rf"\g<1>{port}", line))
        if line.endswith("&"):  # a person pastes the next line later; a script waits for the port
            lines.append(f"for _ in $(seq 200); do python -c \"import socket; socket.create_connection("
                         f"('127.0.0.1', {port}), 1)\" 2>/dev/null && break; sleep 0.1; done")
    result = subprocess.run(["bash", "-c", "\n".join(lines)], env=_env(None), cwd=ROOT, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    printed = [line for line in result.stdout.splitlines()  # less the emulator's banner and make's chatter
               if line and not line.startswith("a2agent emulator on") and not MAKE_NOTE.match(line)]
    assert printed == shown.strip().splitlines()
    assert f"a2agent emulator on http://127.0.0.1:{port}/v1 (api key: sk-a2agent-emulator)" in result.stdout


def test_cli_help_is_the_readme_block() -> None:
    """The README's "$ a2agent --help" block is the real output (at argparse's width without a terminal)."""
    shown = [code for lang, code in ALL_BLOCKS if lang == "text" and code.startswith("$ a2agent --help\n")]
    assert len(shown) == 1
    env = {k: v for k, v in _env(None).items() if k != "COLUMNS"}
    result = subprocess.run(["a2agent", "--help"], env={**env, "COLUMNS": "80"}, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown[0].split("\n", 1)[1]


@pytest.mark.parametrize(("lang", "code"), BLOCKS, ids=[f"{i}-{lang}" for i, (lang, _) in enumerate(BLOCKS)])
def test_readme_block_runs(lang: str, code: str, a2agent_emulator: EmulatorServer) -> None:
    env = _env(a2agent_emulator)
    if lang == "python":
        result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        return
    if "&\n" in code:
        pytest.skip("runs as one script in test_try_it_without_a_key_prints_what_the_readme_shows")
    for line in filter(None, (raw.strip() for raw in code.splitlines())):
        command = safe_command(line)
        result = subprocess.run(["bash", "-c", command], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{shlex.quote(command)} failed:\n{result.stdout}\n{result.stderr}"
        if EMULATOR.match(line):
            assert "a2agent emulator on http://127.0.0.1:" in result.stdout
