"""The core client against the emulator as a real server on 127.0.0.1, the openai SDK as oracle."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import openai
import pytest

from a2agent import (
    A2AgentClient,
    APIConnectionError,
    APITimeoutError,
    AsyncA2AgentClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    token_counter,
)
from a2agent.emulator import NO_BALANCE_KEY, SUSPENDED_KEY, EmulatorServer
from tests.conftest import Api, ManualClock, emulator_greeting

ADD = {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}
MUL = {"type": "function", "function": {"name": "multiply", "description": "Multiply.", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age", "tags"], "additionalProperties": False}

WRONG_KEY = "sk-wrong-0123456789abc"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# Every kind of answer the emulator gives; each must parse in the official SDK, streamed or not.
REQUESTS = {
    "text": {"model": "deepseek-chat", "messages": user("Hello there")},
    "system_and_params": {"model": "qwen3.7-max", "messages": [{"role": "system", "content": "Be brief."},
                                                                *user("hi")],
                          "temperature": 0.2, "top_p": 0.9, "seed": 7},
    "reasoning": {"model": "glm-5", "messages": user("Why is the sky blue?")},
    "thinking_enabled": {"model": "deepseek-chat", "messages": user("think"), "thinking": {"type": "enabled"}},
    "tools": {"model": "deepseek-chat", "messages": user("Please add 2 and 3"), "tools": [ADD, MUL]},
    "parallel_tools": {"model": "deepseek-chat", "messages": user("Call add and multiply in parallel on 2 and 3"),
                       "tools": [ADD, MUL]},
    "forced_tool": {"model": "kimi-k2.5", "messages": user("no tool named here"), "tools": [ADD],
                    "tool_choice": {"type": "function", "function": {"name": "add"}},
                    "thinking": {"type": "disabled"}},  # Kimi refuses a forced call while thinking
    "json_schema": {"model": "qwen3.6-plus", "messages": user("Ann is 41"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}},
    "json_object": {"model": "deepseek-chat", "messages": user("Reply in JSON with keys 'city' and 'country'"),
                    "response_format": {"type": "json_object"}},
    "logprobs": {"model": "deepseek-chat", "messages": user("hi"), "logprobs": True, "top_logprobs": 2},
    "n2": {"model": "deepseek-chat", "messages": user("hi"), "n": 2},
    "max_tokens": {"model": "deepseek-chat", "messages": user("one two three four five"), "max_tokens": 3},
    "stop": {"model": "deepseek-chat", "messages": user("hi"), "stop": ["!"]},
    "image": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]}]},
}


@pytest.fixture
def oracle(emu: EmulatorServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=emu.base_url, api_key=emu.api_key, max_retries=0)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_openai_sdk_parses_every_response(name: str, oracle: openai.OpenAI) -> None:
    request = dict(REQUESTS[name])
    if "thinking" in request:  # a DeepSeek/GLM extension: the SDK takes it through extra_body
        request["extra_body"] = {"thinking": request.pop("thinking")}
    completion = oracle.chat.completions.create(**request)
    assert completion.choices and completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    if request.get("n", 1) > 1:  # n > 1 cannot stream: the emulator refuses as the backends do
        with pytest.raises(openai.BadRequestError, match="'n'"):
            oracle.chat.completions.create(**request, stream=True)
        return
    if completion.choices[0].finish_reason == "length":
        # The SDK's stream helper refuses truncated answers by design; parse the raw chunks instead.
        chunks = list(oracle.chat.completions.create(**request, stream=True))
        assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "length"
        return
    with oracle.chat.completions.stream(**request, stream_options={"include_usage": True}) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.usage is not None and final.usage.total_tokens == completion.usage.total_tokens
    for streamed, plain in zip(final.choices, completion.choices, strict=True):
        assert streamed.message.content == plain.message.content
        assert streamed.finish_reason == plain.finish_reason
        assert [(t.function.name, t.function.arguments) for t in streamed.message.tool_calls or []] == \
               [(t.function.name, t.function.arguments) for t in plain.message.tool_calls or []]


@pytest.mark.parametrize("name", list(REQUESTS))
async def test_core_stream_matches_non_stream(name: str, api: Api) -> None:
    request = {**REQUESTS[name], "stream_options": {"include_usage": True}}
    plain = await api.chat(request)
    if request.get("n", 1) > 1:  # n > 1 cannot stream (the emulator refuses as the backends do)
        with pytest.raises(BadRequestError, match="'n'"):
            await api.stream_final(request)
        return
    streamed = await api.stream_final(request)
    for key in ("model", "system_fingerprint"):
        assert streamed[key] == plain[key], key
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):  # cached_tokens grows on the repeat
        assert streamed["usage"][key] == plain["usage"][key], key
    for s, p in zip(streamed["choices"], plain["choices"], strict=True):
        assert s["finish_reason"] == p["finish_reason"]
        for field in ("content", "reasoning_content", "tool_calls"):
            assert s["message"].get(field) == p["message"].get(field), field


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("text", lambda m, c: m["content"] == emulator_greeting("deepseek-chat")),
        ("reasoning", lambda m, c: m["reasoning_content"].startswith("This is Rayleigh scattering")
         and "Rayleigh scattering" in m["content"]),
        ("thinking_enabled", lambda m, c: bool(m["reasoning_content"])),
        ("tools", lambda m, c: [json.loads(t["function"]["arguments"]) for t in m["tool_calls"]] == [{"a": 2, "b": 3}]),
        ("parallel_tools", lambda m, c: [t["function"]["name"] for t in m["tool_calls"]] == ["add", "multiply"]),
        ("forced_tool", lambda m, c: m["tool_calls"][0]["function"]["name"] == "add"),
        ("json_schema", lambda m, c: set(json.loads(m["content"])) == {"name", "age", "tags"}
         and json.loads(m["content"])["age"] == 41),
        ("json_object", lambda m, c: set(json.loads(m["content"])) == {"city", "country"}),
        ("max_tokens", lambda m, c: c["finish_reason"] == "length"  # whole words, at most 3 tokens
         and 0 < token_counter("deepseek-chat").count_text(m["content"]) <= 3),
        ("stop", lambda m, c: m["content"] == "Hello"),
        ("image", lambda m, c: "1 image" in m["content"]),
        ("logprobs", lambda m, c: len(c["logprobs"]["content"][0]["top_logprobs"]) == 2),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_emulator_model_behaviour(name: str, check: Any, api: Api) -> None:
    choice = (await api.chat(REQUESTS[name]))["choices"][0]
    assert check(choice["message"], choice), choice


async def test_multi_step_tool_chain_really_computes(api: Api) -> None:
    messages = user("Use add on 3 and 4, then multiply the result by 5")
    for _ in range(3):
        message = (await api.chat({"model": "deepseek-chat", "messages": messages, "tools": [ADD, MUL]}))[
            "choices"][0]["message"]
        messages.append(message)
        for call in message.get("tool_calls") or []:
            args = json.loads(call["function"]["arguments"])
            value = args["a"] + args["b"] if call["function"]["name"] == "add" else args["a"] * args["b"]
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": str(value)})
    assert messages[-1]["content"].endswith("The final answer is 35.")


async def test_prompt_cache_reports_cached_tokens(api: Api) -> None:
    request = {"model": "deepseek-chat", "messages": [{"role": "system", "content": "A long shared system prompt."},
                                                      *user("hi")]}
    first, second = (await api.chat(request))["usage"], (await api.chat(request))["usage"]
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["prompt_tokens_details"]["cached_tokens"] > 0
    assert second["prompt_cache_hit_tokens"] == second["prompt_tokens_details"]["cached_tokens"]


async def test_models_listing(api: Api, oracle: openai.OpenAI) -> None:
    ids = [m["id"] for m in await api.models()]
    assert {"deepseek-chat", "glm-5", "kimi-k2.5", "minimax-m2.7", "qwen3.7-max"} <= set(ids)
    assert [m.id for m in oracle.models.list()] == ids


@pytest.mark.parametrize(
    ("key", "request_", "cls", "oracle_cls", "fragment"),
    [
        (WRONG_KEY, REQUESTS["text"], AuthenticationError, openai.AuthenticationError, "Incorrect API key"),
        (SUSPENDED_KEY, REQUESTS["text"], PermissionDeniedError, openai.PermissionDeniedError, "suspended"),
        (NO_BALANCE_KEY, REQUESTS["text"], RateLimitError, openai.RateLimitError, "Insufficient balance"),
        (None, {**REQUESTS["text"], "model": "gpt-99"}, NotFoundError, openai.NotFoundError, "gpt-99"),
        # refused before sending by the core's validator; the emulator answers the SDK 400 for it
        (None, {**REQUESTS["text"], "temperature": 5}, InvalidInputError, openai.BadRequestError, "temperature"),
        (None, {"model": "deepseek-chat", "messages": REQUESTS["image"]["messages"]}, BadRequestError,
         openai.BadRequestError, "image input"),
        (None, {"model": "glm-5", "messages": [*user("x"), {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "3"}]}, BadRequestError, openai.BadRequestError,
         "reasoning_content"),
        (None, {"model": "deepseek-chat", "messages": [{"role": "tool", "tool_call_id": "zz", "content": "3"}]},
         BadRequestError, openai.BadRequestError, "tool_call_id"),
    ],
    ids=["bad_key", "suspended", "no_balance", "unknown_model", "bad_param", "image_on_text_model",
         "thinking_history_without_reasoning", "orphan_tool_message"],
)
async def test_error_answers(mode: str, emu: EmulatorServer, key: str | None, request_: dict[str, Any],
                             cls: type[Exception], oracle_cls: type[Exception], fragment: str) -> None:
    api = Api(mode, base_url=emu.base_url, api_key=key or emu.api_key)
    with pytest.raises(cls, match=fragment) as info:
        await api.chat(request_)
    assert api.sleeps == []  # none of these is worth a retry
    if cls is RateLimitError:
        assert info.value.is_quota_exhausted  # type: ignore[attr-defined]
    with pytest.raises(oracle_cls):
        openai.OpenAI(base_url=emu.base_url, api_key=key or emu.api_key, max_retries=0
                      ).chat.completions.create(**request_)  # type: ignore[call-overload]
    await api.close()


async def test_rate_limit_429_is_backed_off_and_recovers(mode: str, emu: EmulatorServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # 2 requests per 0.4 s on a manual clock that only the client's back-off moves: the third request
    # meets a 429 and the window expires after the wait the server asked for, however busy the machine.
    clock = ManualClock()
    monkeypatch.setattr(emu.state, "clock", clock)
    emu.state.config.rate_limit = (2, 0.4)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    async def asleep(seconds: float) -> None:
        sleep(seconds)

    # The retry policy alone (limiter=False); tests/test_limiter_integration.py has the limiter's turn.
    client: Any = (A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, max_retries=5, _sleep=sleep,
                                 limiter=False)
                   if mode == "sync" else
                   AsyncA2AgentClient(base_url=emu.base_url, api_key=emu.api_key, max_retries=5, _sleep=asleep,
                                      limiter=False))
    for _ in range(4):
        result = client.chat_completions(REQUESTS["text"])
        if mode == "async":
            result = await result
        assert result["choices"][0]["message"]["content"]
    assert slept == [0.4]  # one 429 (the third request), waited out by retry-after-ms, not the default back-off
    assert len(emu.requests) == 4  # the log holds only requests past the gate: the 429 was answered before it

    def probe() -> httpx.Response:
        return httpx.post(emu.base_url + "/chat/completions", json=REQUESTS["text"],
                          headers={"Authorization": f"Bearer {emu.api_key}"})

    raw = probe()  # the third and fourth requests fill the window again
    assert raw.status_code == 429 and raw.json()["error"]["code"] == "rate_limit_exceeded"
    assert raw.headers["retry-after"] == "1" and raw.headers["retry-after-ms"] == "400"
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    clock.advance(0.4)
    assert probe().status_code == 200 and len(emu.requests) == 5  # the window slid on
    if mode == "sync":
        client.close()
    else:
        await client.aclose()


async def test_injected_5xx_is_retried(api: Api, emu: EmulatorServer) -> None:
    emu.script({"status": 503, "times": 2}, {"content": "recovered"})
    assert (await api.chat(REQUESTS["text"]))["choices"][0]["message"]["content"] == "recovered"
    assert len(emu.requests) == 3 and len(api.sleeps) == 2


async def test_delay_fault_times_out(mode: str, emu: EmulatorServer) -> None:
    emu.script({"delay": 30.0})  # held until the client hangs up: only the client's 0.2 s timeout can end it
    api = Api(mode, base_url=emu.base_url, api_key=emu.api_key, timeout=0.2, max_retries=0)
    with pytest.raises(APITimeoutError):
        await api.chat(REQUESTS["text"])
    await api.close()


async def test_disconnect_mid_stream_is_not_retried(api: Api, emu: EmulatorServer) -> None:
    emu.script({"disconnect_after": 3})
    with pytest.raises(APIConnectionError):
        await api.stream(REQUESTS["text"])
    assert len(emu.requests) == 1 and api.sleeps == []


async def test_disconnect_before_body_is_retried(api: Api, emu: EmulatorServer) -> None:
    emu.script({"disconnect_after": 0, "times": 2})
    assert (await api.chat(REQUESTS["text"]))["choices"][0]["message"]["content"].startswith("Hello")
    assert len(emu.requests) == 3


async def test_error_event_mid_stream(api: Api, emu: EmulatorServer) -> None:
    emu.script({"stream_error_after": 2, "error": {"message": "upstream overloaded", "type": "server_error"}})
    with pytest.raises(StreamError, match="upstream overloaded"):
        await api.stream(REQUESTS["text"])


async def test_scripted_reply_over_http_control_plane(api: Api, emu: EmulatorServer) -> None:
    httpx.post(emu.base_url.removesuffix("/v1") + "/_emulator/script",
               json=[{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}])
    message = (await api.chat(REQUESTS["tools"]))["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["arguments"] == '{"a": 1, "b": 2}'


async def test_keep_alive_reuses_one_connection(api: Api, emu: EmulatorServer) -> None:
    for _ in range(3):
        await api.chat(REQUESTS["text"])
        await api.stream(REQUESTS["text"])
    ports = {r["client_port"] for r in emu.requests}
    assert len(emu.requests) == 6 and len(ports) == 1


async def test_async_fan_out(emu: EmulatorServer) -> None:
    async with AsyncA2AgentClient(base_url=emu.base_url, api_key=emu.api_key) as client:
        results = await asyncio.gather(*(client.chat_completions(
            {"model": "deepseek-chat", "messages": user(f"n{i}")}) for i in range(50)))
    assert [r["choices"][0]["message"]["content"].split(": ")[-1] for r in results] == [f"n{i}" for i in range(50)]


async def test_request_log_never_holds_the_key(api: Api, emu: EmulatorServer) -> None:
    await api.chat(REQUESTS["text"])
    assert emu.api_key not in json.dumps(emu.requests)


def test_emulator_runs_as_a_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "a2agent.emulator", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in banner
        with A2AgentClient(base_url=f"http://127.0.0.1:{port}/v1", api_key="any-key-0123456789abc") as client:
            # The banner comes just before the socket is bound: poll until it answers. The deadline
            # only bounds a hang (generous for a busy machine); a process that died fails at once.
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert client.list_models()
                    break
                except APIConnectionError:
                    assert proc.poll() is None, "the emulator process exited"
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_internal_error_class_for_injected_500(emu: EmulatorServer) -> None:
    emu.script({"status": 500, "body": {"error": {"message": "kaboom"}}})
    with A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, max_retries=0) as client, \
            pytest.raises(InternalServerError, match="kaboom"):
        client.chat_completions(REQUESTS["text"])


def test_async_client_survives_several_event_loops(emu: EmulatorServer) -> None:
    client = AsyncA2AgentClient(base_url=emu.base_url, api_key=emu.api_key)

    async def once(text: str) -> str:
        result = await client.chat_completions({"model": "deepseek-chat", "messages": user(text)})
        return str(result["choices"][0]["message"]["content"])

    # Each asyncio.run() has its own loop, as in scripts and notebooks that reuse a model.
    assert [asyncio.run(once(t)).split(": ")[-1] for t in ("a", "b", "c")] == ["a", "b", "c"]


def test_proxy_environment_is_honoured(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port with nothing listening: the "proxy" refuses connections
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, max_retries=0) as client, \
            pytest.raises(APIConnectionError):
        client.list_models()  # went to the proxy, as httpx.Client would have
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, max_retries=0) as client:
        assert client.list_models()  # bypassed for this host
    assert emu.requests == []  # list_models is not logged; nothing else reached the emulator
