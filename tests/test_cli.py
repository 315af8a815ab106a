"""The ``a2agent`` command line, run for real (``python -m a2agent`` and the installed console script)
against the in-process emulator: output, requests on the wire, exit codes, and the key never printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from a2agent import MODEL_PROFILES, get_model_profile
from a2agent.emulator import EmulatorServer

SCRIPT = Path(sys.executable).parent / "a2agent"  # the console script installed in this venv
BOUND = 60  # seconds: a generous cap on waiting for a process, never an assertion about speed
PLANTED_KEY = "sk-PLANTED-cli-secret-7f3a9c2e1b"


def _env(emu: EmulatorServer | None = None, key: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("A2AGENT_")}
    env.update(COLUMNS="100", NO_COLOR="1", PYTHONUNBUFFERED="1")
    if emu is not None:
        env["A2AGENT_BASE_URL"] = emu.base_url
        env["A2AGENT_API_KEY"] = key or emu.api_key
    return {**env, **extra}


def run(*args: str, emu: EmulatorServer | None = None, key: str | None = None, stdin: str | None = None,
        script: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "a2agent"]
    return subprocess.run([*command, *args], input=stdin if stdin is not None else "", capture_output=True,
                          text=True, env=env or _env(emu, key), timeout=BOUND)


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("a2agent: error: ")
    return lines[0]


def _default_sigint() -> None:
    """Child processes get Ctrl-C's default handling even under a runner started with SIGINT ignored
    (a background job): Python then turns SIGINT into KeyboardInterrupt, as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _reader(stream: Any, sink: list[str], seen: threading.Event, wanted: Callable[[str], bool]) -> threading.Thread:
    def pump() -> None:
        for line in stream:
            sink.append(line)
            if wanted(line):
                seen.set()
        seen.set()  # end of output: stop waiting either way

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


# -- help, version, usage errors -------------------------------------------------------------------
@pytest.mark.parametrize("command", [[], ["models"], ["chat"], ["emulator"]], ids=["top", "models", "chat", "emulator"])
def test_help_of_every_command_has_examples(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: a2agent {' '.join(command)}".rstrip())
    assert "examples:" in result.stdout
    assert result.stderr == ""


def test_top_level_help_lists_commands_and_exit_codes() -> None:
    out = run("-h").stdout
    for text in ("models", "chat", "emulator", "--base-url", "--api-key", "--timeout", "--version", "exit status"):
        assert text in out


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "a2agent 0.1.0"


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["chat", "--bogus", "hi"], ["chat", "--timeout", "-1", "hi"],
                                  ["chat", "--format", "grpc", "hi"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr.splitlines()[-1]


def test_help_never_shows_the_key() -> None:
    env = _env(A2AGENT_API_KEY=PLANTED_KEY)
    for command in ([], ["models"], ["chat"]):
        result = run(*command, "--help", env=env)
        assert PLANTED_KEY not in result.stdout + result.stderr


# -- models ----------------------------------------------------------------------------------------
def test_models_table(emu: EmulatorServer) -> None:
    result = run("models", emu=emu)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "OWNER", "CONTEXT", "MAX", "OUTPUT", "TOOLS", "VISION", "REASONING"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == set(MODEL_PROFILES)
    assert rows["kimi-k2.5"] == ["kimi-k2.5", "moonshot", "262144", "32768", "yes", "yes", "always"]
    assert rows["deepseek-chat"] == ["deepseek-chat", "deepseek", "131072", "8192", "yes", "no", "optional"]
    assert lines[1].index("131072") == lines[0].index("CONTEXT") + len("CONTEXT") - len("131072")
    assert emu.requests == []  # /v1/models is not a chat request: nothing recorded, nothing consumed


def test_models_json_with_a_model_the_catalogue_does_not_know(emu: EmulatorServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator (this process) lists a model that the CLI's catalogue (a fresh process) has never heard of.
    monkeypatch.setitem(MODEL_PROFILES, "brand-new-9", get_model_profile("brand-new-9").model_copy(
        update={"owned_by": "newcorp", "known": True}))
    listed = json.loads(run("models", "--json", emu=emu).stdout)
    by_id = {m["id"]: m for m in listed}
    assert by_id["brand-new-9"] == {"id": "brand-new-9", "owned_by": "newcorp", "known": False,
                                    "context_window": None, "max_output_tokens": None, "tools": None,
                                    "vision": None, "reasoning": None}
    assert by_id["glm-5"] == {"id": "glm-5", "owned_by": "zhipu", "known": True, "context_window": 204800,
                              "max_output_tokens": 131072, "tools": True, "vision": False, "reasoning": "always"}
    table = run("models", emu=emu).stdout
    row = next(line.split() for line in table.splitlines() if line.startswith("brand-new-9"))
    assert row == ["brand-new-9", "newcorp", "?", "?", "?", "?", "?"]


def test_console_script_is_installed_and_runs(emu: EmulatorServer) -> None:
    assert SCRIPT.exists()
    via_script = run("models", "--json", emu=emu, script=True)
    assert via_script.returncode == 0, via_script.stderr
    assert via_script.stdout == run("models", "--json", emu=emu).stdout


# -- chat ------------------------------------------------------------------------------------------
def test_chat_streams_the_answer(emu: EmulatorServer) -> None:
    emu.script({"content": "Hello from the script"})
    result = run("chat", "Say", "hello", emu=emu)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello from the script\n"
    assert result.stderr == ""
    body = emu.requests[-1]["body"]
    assert emu.requests[-1]["path"] == "/v1/chat/completions"
    assert body["stream"] is True and body["model"] == "deepseek-chat"
    assert body["messages"] == [{"role": "user", "content": "Say hello"}]


def test_chat_prints_chunks_as_they_arrive(emu: EmulatorServer) -> None:
    """A stream cut after a few chunks: what arrived is already on stdout when the error comes (a CLI
    that waited for the whole answer would print nothing)."""
    emu.script({"content": "one two three four five six", "disconnect_after": 4})
    result = run("chat", "hi", emu=emu)
    assert result.stdout.startswith("one two three")
    assert "six" not in result.stdout
    assert_one_error_line(result, 1)


def test_chat_no_stream(emu: EmulatorServer) -> None:
    emu.script({"content": "whole answer"})
    result = run("chat", "--no-stream", "hi", emu=emu)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "whole answer\n"
    assert "stream" not in emu.requests[-1]["body"]


def test_chat_reads_the_prompt_from_stdin(emu: EmulatorServer) -> None:
    result = run("chat", emu=emu, stdin="a prompt\nover two lines\n")
    assert result.returncode == 0, result.stderr
    # The trailing newline is dropped: the same prompt as an argument, the same prompt tokens.
    assert emu.requests[-1]["body"]["messages"] == [{"role": "user", "content": "a prompt\nover two lines"}]
    assert "a prompt" in result.stdout  # the emulator echoes the prompt


def test_chat_sends_text_piped_in_after_the_prompt(emu: EmulatorServer) -> None:
    """git diff | a2agent chat "Review this diff": the instruction, a blank line, then the piped text
    (its trailing newlines dropped)."""
    diff = "diff --git a/x b/x\n+hello\n"
    result = run("chat", "--model", "qwen3.7-max", "Review this diff", emu=emu, stdin=diff)
    assert result.returncode == 0, result.stderr
    assert emu.requests[-1]["body"]["messages"] == [
        {"role": "user", "content": "Review this diff\n\ndiff --git a/x b/x\n+hello"}]


@pytest.mark.parametrize("stdin", ["", "\n  \n"], ids=["empty", "blank"])
def test_chat_prompt_with_an_empty_stdin_sends_the_prompt_alone(emu: EmulatorServer, stdin: str) -> None:
    result = run("chat", "hi", "there", emu=emu, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert emu.requests[-1]["body"]["messages"] == [{"role": "user", "content": "hi there"}]


def test_chat_prompt_with_stdin_from_dev_null(emu: EmulatorServer) -> None:
    result = subprocess.run([sys.executable, "-m", "a2agent", "chat", "hi"], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=_env(emu), timeout=BOUND)
    assert result.returncode == 0, result.stderr
    assert emu.requests[-1]["body"]["messages"] == [{"role": "user", "content": "hi"}]


def test_chat_dash_reads_the_prompt_from_stdin(emu: EmulatorServer) -> None:
    result = run("chat", "-", emu=emu, stdin="from stdin\n")
    assert result.returncode == 0, result.stderr
    assert emu.requests[-1]["body"]["messages"][-1]["content"].startswith("from stdin")


def test_chat_stdin_that_is_not_text_is_a_usage_error(emu: EmulatorServer) -> None:
    result = subprocess.run([sys.executable, "-m", "a2agent", "chat", "describe"], input=b"\xff\xfe\x00png",
                            capture_output=True, env=_env(emu, PYTHONIOENCODING="utf-8"), timeout=BOUND)
    assert result.returncode == 2, result
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("a2agent: error: stdin is not utf-8 text"), lines
    assert emu.requests == []


@pytest.mark.parametrize(("args", "stdin"), [([], ""), ([], " \n\t\n"), (["-"], ""), ([""], ""), (["   "], ""),
                                           (["", ""], ""), ([" "], "text piped in")],
                         ids=["empty-stdin", "blank-stdin", "dash-empty-stdin", "empty-arg", "blank-arg",
                              "empty-args", "blank-arg-with-stdin"])
def test_chat_without_a_prompt_is_a_usage_error(emu: EmulatorServer, args: list[str], stdin: str) -> None:
    line = assert_one_error_line(run("chat", *args, emu=emu, stdin=stdin), 2)
    assert "no prompt" in line
    assert emu.requests == []


def test_stdin_prompt_and_argument_prompt_are_billed_alike(emu: EmulatorServer) -> None:
    prompt = "What is the capital of France?"
    by_arg = run("chat", "--no-stream", "--usage", prompt, emu=emu, stdin="")
    by_stdin = run("chat", "--no-stream", "--usage", emu=emu, stdin=prompt + "\n")
    assert by_arg.returncode == by_stdin.returncode == 0, by_arg.stderr + by_stdin.stderr
    assert emu.requests[-1]["body"]["messages"] == emu.requests[-2]["body"]["messages"]
    assert by_stdin.stderr.splitlines()[-1] == by_arg.stderr.splitlines()[-1]


def test_chat_options_reach_the_request(emu: EmulatorServer) -> None:
    result = run("chat", "--model", "qwen3.7-max", "--system", "Answer in French", "--temperature", "0.3",
                 "--max-tokens", "50", "hi", emu=emu)
    assert result.returncode == 0, result.stderr
    body = emu.requests[-1]["body"]
    assert body["model"] == "qwen3.7-max"
    assert body["messages"] == [{"role": "system", "content": "Answer in French"}, {"role": "user", "content": "hi"}]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 50


def test_chat_anthropic_format_uses_messages(emu: EmulatorServer) -> None:
    emu.script({"content": "over messages"})
    result = run("chat", "--format", "anthropic", "--system", "be brief", "hi", emu=emu)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "over messages\n"
    request = emu.requests[-1]
    assert request["path"] == "/v1/messages"
    assert request["body"]["system"] in ("be brief", [{"type": "text", "text": "be brief"}])


@pytest.mark.parametrize("api_format", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_reasoning_goes_to_stderr_apart_from_the_answer(emu: EmulatorServer, api_format: str, stream: bool) -> None:
    emu.script({"reasoning": "thinking hard about it", "content": "the answer"})
    args = ["chat", "--model", "glm-5", "--format", api_format, *([] if stream else ["--no-stream"]), "hi"]
    result = run(*args, emu=emu)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the answer\n"
    assert result.stderr == "[reasoning]\nthinking hard about it\n[/reasoning]\n"

    emu.script({"reasoning": "thinking hard about it", "content": "the answer"})
    hidden = run(*args[:-1], "--hide-reasoning", "hi", emu=emu)
    assert (hidden.returncode, hidden.stdout, hidden.stderr) == (0, "the answer\n", "")


def test_reasoning_model_unscripted(emu: EmulatorServer) -> None:
    result = run("chat", "--model", "glm-5", "why?", emu=emu)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("[reasoning]\n") and result.stderr.endswith("[/reasoning]\n")
    assert "[reasoning]" not in result.stdout and result.stdout.strip()


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_usage_line(emu: EmulatorServer, stream: bool) -> None:
    result = run("chat", "--model", "glm-5", "--usage", "--hide-reasoning", *([] if stream else ["--no-stream"]),
                 "hi", emu=emu)
    assert result.returncode == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("usage: ") and " prompt + " in last and " reasoning)" in last
    if stream:
        assert emu.requests[-1]["body"]["stream_options"] == {"include_usage": True}


def test_answer_cut_at_max_tokens_is_noted(emu: EmulatorServer) -> None:
    emu.script({"content": "partial", "finish_reason": "length"})
    result = run("chat", "hi", emu=emu)
    assert result.returncode == 0
    assert result.stdout == "partial\n"
    assert "finish_reason: length" in result.stderr


# -- errors and exit codes -------------------------------------------------------------------------
def test_wrong_key_is_one_line_exit_1(emu: EmulatorServer) -> None:
    result = run("chat", "hi", emu=emu, key=PLANTED_KEY)
    line = assert_one_error_line(result, 1)
    assert line == (f"a2agent: error: Error code: 401 - Incorrect API key provided. "
                    f"(POST {emu.base_url}/chat/completions, 1 attempt)")
    assert result.stdout == ""


def test_server_error_after_retries_is_one_line_exit_1(emu: EmulatorServer) -> None:
    emu.script({"status": 500, "times": 3})
    line = assert_one_error_line(run("chat", "hi", emu=emu), 1)
    assert line.startswith("a2agent: error: Error code: 500 - Injected fault")
    assert line.endswith("/chat/completions, 3 attempts)")
    assert len(emu.requests) == 3


def test_max_retries_option(emu: EmulatorServer) -> None:
    emu.script({"status": 503, "times": 2})
    line = assert_one_error_line(run("--max-retries", "0", "chat", "hi", emu=emu), 1)
    assert line.startswith("a2agent: error: Error code: 503") and line.endswith("/chat/completions, 1 attempt)")
    assert len(emu.requests) == 1


def test_unreachable_gateway_exit_1() -> None:
    env = _env(A2AGENT_API_KEY="sk-a2agent-emulator", A2AGENT_BASE_URL="http://127.0.0.1:1/v1")
    line = assert_one_error_line(run("--max-retries", "0", "models", env=env), 1)
    assert "Connection error" in line


@pytest.mark.parametrize(("command", "suffix", "hint"), [
    (["chat", "hi"], "/chat/completions", "(the base URL includes the endpoint /chat/completions, which the client "
                                          "appends; the A2Agent base URL ends in /v1, e.g. https://api.a2agent.me/v1)"),
    (["models"], "/models", "(the base URL includes the endpoint /models, which the client appends; "
                            "the A2Agent base URL ends in /v1, e.g. https://api.a2agent.me/v1)"),
], ids=["chat", "models"])
def test_base_url_with_the_endpoint_gets_a_hint(emu: EmulatorServer, command: list[str], suffix: str,
                                                hint: str) -> None:
    """The common copy-paste mistake: the emulator's raw 404 for .../v1/chat/completions/chat/completions."""
    result = run("--base-url", emu.base_url + suffix, *command, emu=emu)
    line = assert_one_error_line(result, 1)
    assert line.startswith("a2agent: error: Error code: 404 - ") and hint in line, line
    assert line.endswith(f"{emu.base_url}{suffix}{suffix}, 1 attempt)")


def test_base_url_with_another_prefix_gets_a_hint(emu: EmulatorServer) -> None:
    base_url = emu.base_url.removesuffix("/v1") + "/api/v1"
    line = assert_one_error_line(run("--base-url", base_url, "chat", "hi", emu=emu), 1)
    assert "(the A2Agent base URL's path is /v1, not /api/v1: e.g. https://api.a2agent.me/v1)" in line, line


def test_missing_key_says_how_to_set_it() -> None:
    line = assert_one_error_line(run("chat", "hi", env=_env()), 2)
    assert "A2AGENT_API_KEY" in line and "--api-key" in line


def test_api_key_flag_overrides_the_environment(emu: EmulatorServer) -> None:
    result = run("--api-key", emu.api_key, "models", env=_env(emu, PLANTED_KEY))
    assert result.returncode == 0, result.stderr


def test_bad_value_refused_by_the_core_is_a_usage_error(emu: EmulatorServer) -> None:
    line = assert_one_error_line(run("chat", "--temperature", "5", "hi", emu=emu), 2)
    assert "temperature" in line
    assert emu.requests == []


def test_the_key_is_never_printed(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distinctive key, from the environment and from the flag, through every kind of outcome."""
    outputs = []
    env = _env(emu, PLANTED_KEY)
    for args in (["chat", "hi"], ["-v", "chat", "hi"], ["-v", "models"], ["models", "--json"],
                 ["--api-key", PLANTED_KEY, "chat", "hi"], [f"--api-key={PLANTED_KEY}", "-v", "models"],
                 ["chat", f"--api-key={PLANTED_KEY}", "--bogus", "hi"], ["chat", "--bogus", "--api", PLANTED_KEY],
                 ["chat", "--api-key", PLANTED_KEY, "--format", "anthropic", "-v", "hi"],
                 ["frobnicate", "--api-key", PLANTED_KEY], ["--help"], ["chat", "--help"]):
        result = run(*args, env=env)
        assert result.returncode in (0, 1, 2), args
        outputs.append(result.stdout + result.stderr)
    # A gateway that lets the key in and then echoes it in its error body, on every retry.
    monkeypatch.setattr(emu.state.config, "accept_any_key", True)
    emu.script({"status": 500, "times": 3, "body": {"error": {"message": f"bad key {PLANTED_KEY}"}}})
    result = run("-v", "chat", "hi", env=env)
    assert "bad key *** (POST" in result.stderr
    outputs.append(result.stdout + result.stderr)
    assert "retry 1 of 2" in result.stderr  # verbose shows the retries
    assert PLANTED_KEY[3:] not in "\n".join(outputs)
    assert all("Traceback" not in out for out in outputs)


@pytest.mark.parametrize("api_format", ["openai", "anthropic"])
def test_verbose_logs_each_request_sent(emu: EmulatorServer, api_format: str) -> None:
    result = run("-v", "chat", "--format", api_format, "--model", "qwen3.7-max", "hi", emu=emu)
    assert result.returncode == 0, result.stderr
    assert len(emu.requests) == 1
    assert result.stderr.splitlines() == [f"a2agent: gateway {emu.base_url}, {api_format} format",
                                          f"a2agent: POST {emu.requests[0]['path']} (model qwen3.7-max)"]


def test_verbose_logs_the_models_request(emu: EmulatorServer) -> None:
    result = run("-v", "models", emu=emu)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "a2agent: GET /v1/models"


def test_verbose_logs_a_line_for_every_attempt(emu: EmulatorServer) -> None:
    emu.script({"status": 503, "times": 2})
    result = run("-v", "chat", "hi", emu=emu)
    assert result.returncode == 0, result.stderr
    sent = [line for line in result.stderr.splitlines() if "POST " in line]
    assert len(sent) == len(emu.requests) == 3  # the request, then a line before each of its 2 retries
    assert sent[0] == "a2agent: POST /v1/chat/completions (model deepseek-chat)"
    assert "retry 1 of 2" in sent[1] and "retry 2 of 2" in sent[2]
    assert "bearer" not in result.stderr.lower() and "authorization" not in result.stderr.lower()


def test_a_refused_payload_is_not_logged_as_sent(emu: EmulatorServer) -> None:
    line = assert_one_error_line(run("-v", "chat", "--temperature", "5", "hi", emu=emu), 2)
    assert "temperature" in line
    assert emu.requests == []


# -- signals and pipes -----------------------------------------------------------------------------
def test_ctrl_c_exits_130_without_traceback(emu: EmulatorServer) -> None:
    emu.script({"delay": 600, "content": "never"})  # the emulator holds the answer until we hang up
    proc = subprocess.Popen([sys.executable, "-m", "a2agent", "chat", "hi"], env=_env(emu), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    try:
        for _ in range(BOUND * 100):  # until the request reaches the emulator (bounded, not timed)
            if emu.requests or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert emu.requests and proc.poll() is None, proc.communicate(timeout=BOUND)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out == ""


def test_broken_pipe_exits_quietly(emu: EmulatorServer) -> None:
    # Far more than a pipe buffer holds: the CLI is still writing when `head` has gone.
    emu.script({"content": ("x" * 1000 + " ") * 300})
    result = subprocess.run(["bash", "-c", f"{sys.executable} -m a2agent chat hi | head -c 10; "
                                           "echo \"status=${PIPESTATUS[0]}\" >&2"],
                            env=_env(emu), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BOUND)
    assert result.stdout == "x" * 10
    assert result.stderr == "status=0\n"


# -- the emulator command --------------------------------------------------------------------------
def test_emulator_command_serves_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "a2agent", "emulator", "--port", "0", "--strict-keys"],
                            env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()  # printed once the socket is bound
        assert banner.startswith("a2agent emulator on http://127.0.0.1:"), banner + proc.communicate(timeout=BOUND)[1]
        base_url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        env = _env(A2AGENT_BASE_URL=base_url, A2AGENT_API_KEY="sk-a2agent-emulator")
        listed = run("models", "--json", env=env)  # the first request waits for the server to accept
        assert listed.returncode == 0, listed.stderr
        assert {m["id"] for m in json.loads(listed.stdout)} == set(MODEL_PROFILES)
        chat = run("chat", "hello", env=env)
        assert chat.returncode == 0 and chat.stdout.startswith("Hello!")  # the emulator greets back
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err  # uvicorn shuts down, then hands Ctrl-C back: interrupted
    assert "Traceback" not in err


def test_emulator_command_without_its_extra_is_a_usage_error() -> None:
    """A setup error, nothing sent: exit 2 (1 is an API or network error), one line naming the extra.
    A fresh interpreter with uvicorn hidden (sys.modules[name] = None: importing it fails as if absent)."""
    code = ("import sys; sys.modules['uvicorn'] = None\n"
            "from a2agent._cli import main; sys.exit(main(['emulator', '--port', '0']))")
    result = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            env=_env(), timeout=BOUND)
    line = assert_one_error_line(result, 2)
    assert line == ("a2agent: error: a2agent emulator needs the 'uvicorn' package, which is not installed; "
                    "install the extra: pip install 'a2agent[emulator]'")
    assert result.stdout == ""


def test_importing_the_cli_loads_no_framework_and_no_server() -> None:
    code = ("import sys, a2agent._cli; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'langchain_core', 'llama_index', 'starlette', 'uvicorn', 'anyio', 'httpx'}))")
    result = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            env=_env(), timeout=BOUND)
    assert result.stdout.strip() == "[]", result.stderr
