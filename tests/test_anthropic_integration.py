"""The Anthropic Messages format end to end on loopback; the official anthropic SDK is the oracle."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from a2agent import (
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
)
from a2agent.emulator import NO_BALANCE_KEY, SUSPENDED_KEY, EmulatorServer
from tests.conftest import Api, emulator_greeting

ADD = {"name": "add", "description": "Add two integers.", "input_schema": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}
MUL = {**ADD, "name": "multiply", "description": "Multiply."}

WRONG_KEY = "sk-wrong-0123456789abc"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# Native Anthropic requests for the SDK oracle.
NATIVE = {
    "text": {"model": "deepseek-chat", "max_tokens": 100, "messages": user("Hello there")},
    "system_blocks": {"model": "qwen3.7-max", "max_tokens": 100, "system": [{"type": "text", "text": "Be brief."}],
                      "messages": user("hi"), "metadata": {"user_id": "u1"}},
    "thinking": {"model": "glm-5", "max_tokens": 2000, "messages": user("Why?"),
                 "thinking": {"type": "enabled", "budget_tokens": 1024}},
    "tools": {"model": "deepseek-chat", "max_tokens": 100, "messages": user("Please add 2 and 3"), "tools": [ADD, MUL]},
    "parallel_tools": {"model": "deepseek-chat", "max_tokens": 100, "tools": [ADD, MUL],
                       "messages": user("Call add and multiply in parallel on 2 and 3")},
    "forced_tool": {"model": "kimi-k2.5", "max_tokens": 100, "messages": user("nothing"), "tools": [ADD],
                    "tool_choice": {"type": "tool", "name": "add"},
                    "thinking": {"type": "disabled"}},  # Kimi refuses a forced call while thinking
    "max_tokens": {"model": "deepseek-chat", "max_tokens": 3, "messages": user("one two three four")},
    "stop": {"model": "deepseek-chat", "max_tokens": 100, "messages": user("hi"), "stop_sequences": ["!"]},
    "image": {"model": "kimi-k2.5", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]},
    "tool_result_turn": {"model": "deepseek-chat", "max_tokens": 100, "tools": [ADD], "messages": [
        *user("Please add 2 and 3"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "add",
                                           "input": {"a": 2, "b": 3}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "5"}]}]},
}


@pytest.fixture
def sdk(emu: EmulatorServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=emu.base_url.removesuffix("/v1"), api_key=emu.api_key, max_retries=0)


@pytest.mark.parametrize("name", list(NATIVE))
def test_anthropic_sdk_parses_every_response(name: str, sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(**NATIVE[name])
    assert message.type == "message" and message.content and message.usage.output_tokens > 0
    with sdk.messages.stream(**NATIVE[name]) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_message()
    assert {"message_start", "content_block_start", "message_delta", "message_stop"} <= kinds
    assert final.stop_reason == message.stop_reason
    assert [b.model_dump(exclude={"id"}) for b in final.content] == [
        b.model_dump(exclude={"id"}) for b in message.content]


# The same questions in canonical form, through the core client with api_format="anthropic".
CANONICAL = {
    "text": {"model": "deepseek-chat", "messages": user("Hello there")},
    "reasoning": {"model": "glm-5", "messages": [{"role": "system", "content": "Think."}, *user("Why?")]},
    "tools": {"model": "deepseek-chat", "messages": user("Please add 2 and 3"), "tools": [
        {"type": "function", "function": {"name": t["name"], "parameters": t["input_schema"]}} for t in (ADD, MUL)]},
    "parallel_tools": {"model": "deepseek-chat", "messages": user("Call add and multiply in parallel on 2 and 3"),
                       "tools": [{"type": "function", "function": {"name": t["name"], "parameters": t["input_schema"]}}
                                 for t in (ADD, MUL)]},
    "max_tokens": {"model": "deepseek-chat", "messages": user("one two three four"), "max_tokens": 3},
}


@pytest.fixture
async def aapi(mode: str, emu: EmulatorServer) -> Any:
    client = Api(mode, base_url=emu.base_url, api_key=emu.api_key, api_format="anthropic")
    yield client
    await client.close()


@pytest.mark.parametrize("name", list(CANONICAL))
async def test_core_anthropic_stream_matches_non_stream(name: str, aapi: Api, emu: EmulatorServer) -> None:
    plain = await aapi.chat(CANONICAL[name])
    streamed = await aapi.stream_final(CANONICAL[name])
    assert emu.requests[-1]["path"] == "/v1/messages"
    assert emu.requests[-1]["headers"]["anthropic-version"] == "2023-06-01"
    for s, p in zip(streamed["choices"], plain["choices"], strict=True):
        assert s["finish_reason"] == p["finish_reason"]
        assert s["message"] == p["message"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):  # cached_tokens grows on the repeat
        assert streamed["usage"][key] == plain["usage"][key]


async def test_reasoning_round_trip_needs_the_signature(aapi: Api, emu: EmulatorServer) -> None:
    tools = CANONICAL["tools"]["tools"]
    messages = user("Please add 2 and 3")
    first = (await aapi.chat({"model": "glm-5", "messages": messages, "tools": tools}))["choices"][0]["message"]
    assert first["reasoning_signature"].startswith("sig_")
    call = first["tool_calls"][0]
    history = [*messages, first, {"role": "tool", "tool_call_id": call["id"], "content": "5"}]
    final = await aapi.chat({"model": "glm-5", "messages": history, "tools": tools})
    assert final["choices"][0]["message"]["content"].endswith("The final answer is 5.")
    forged = [*messages, {**first, "reasoning_signature": "sig_forged"}, history[-1]]
    with pytest.raises(BadRequestError, match="invalid signature"):
        await aapi.chat({"model": "glm-5", "messages": forged, "tools": tools})


@pytest.mark.parametrize(
    ("key", "request_", "cls", "sdk_cls", "fragment"),
    [
        (WRONG_KEY, NATIVE["text"], AuthenticationError, anthropic.AuthenticationError, "Incorrect API key"),
        (SUSPENDED_KEY, NATIVE["text"], PermissionDeniedError, anthropic.PermissionDeniedError, "suspended"),
        (NO_BALANCE_KEY, NATIVE["text"], RateLimitError, anthropic.RateLimitError, "Insufficient balance"),
        (None, {**NATIVE["text"], "model": "claude-9"}, NotFoundError, anthropic.NotFoundError, "claude-9"),
        (None, {"model": "glm-5", "messages": user("x")}, BadRequestError, anthropic.BadRequestError, "max_tokens"),
    ],
    ids=["bad_key", "suspended", "no_balance", "unknown_model", "missing_max_tokens"],
)
def test_anthropic_error_bodies(emu: EmulatorServer, key: str | None, request_: dict[str, Any], cls: type[Exception],
                                sdk_cls: type[Exception], fragment: str) -> None:
    api_key = key or emu.api_key
    raw = httpx.post(emu.base_url + "/messages", json=request_, headers={"x-api-key": api_key})
    assert raw.json()["type"] == "error" and fragment in raw.json()["error"]["message"]
    if "max_tokens" in request_:  # the SDK itself refuses to send a request without it
        with pytest.raises(sdk_cls):
            anthropic.Anthropic(base_url=emu.base_url.removesuffix("/v1"), api_key=api_key,
                                max_retries=0).messages.create(**request_)
    from a2agent import A2AgentClient

    with A2AgentClient(base_url=emu.base_url, api_key=api_key, api_format="anthropic", max_retries=0) as client, \
            pytest.raises(cls, match=fragment) as info:
        if "max_tokens" in request_:
            client.chat_completions({"model": request_["model"], "messages": request_["messages"]})
        else:  # the codec always fills max_tokens, so send the raw body through the transport
            client._transport.request("POST", "/messages", request_, headers={"anthropic-version": "2023-06-01"})
    if cls is RateLimitError:
        assert info.value.is_quota_exhausted  # type: ignore[attr-defined]


async def test_overloaded_529_is_retried(aapi: Api, emu: EmulatorServer) -> None:
    emu.script({"status": 529, "body": {"type": "error", "error": {"type": "overloaded_error",
                                                                   "message": "Overloaded"}}, "times": 2})
    assert (await aapi.chat(CANONICAL["text"]))["choices"][0]["message"]["content"].startswith("Hello")
    assert len(aapi.sleeps) == 2


async def test_overloaded_529_is_typed(emu: EmulatorServer, mode: str) -> None:
    emu.script({"status": 529, "body": {"type": "error", "error": {"type": "overloaded_error",
                                                                   "message": "Overloaded"}}})
    api = Api(mode, base_url=emu.base_url, api_key=emu.api_key, api_format="anthropic", max_retries=0)
    with pytest.raises(InternalServerError, match="Overloaded") as info:
        await api.chat(CANONICAL["text"])
    assert info.value.status_code == 529 and info.value.code == "overloaded_error"
    await api.close()


async def test_error_event_mid_stream(aapi: Api, emu: EmulatorServer) -> None:
    emu.script({"stream_error_after": 3, "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(StreamError, match="Overloaded"):
        await aapi.stream(CANONICAL["text"])


async def test_stream_ends_without_done_marker(aapi: Api, emu: EmulatorServer) -> None:
    chunks = await aapi.stream(CANONICAL["text"])
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")) == \
        emulator_greeting("deepseek-chat")


def test_request_log_shows_native_body(emu: EmulatorServer) -> None:
    from a2agent import A2AgentClient

    with A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, api_format="anthropic") as client:
        client.chat_completions({**CANONICAL["tools"], "tool_choice": "required", "parallel_tool_calls": False,
                                 "stop": ["x"], "temperature": 0.1})
    body = emu.requests[-1]["body"]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["stop_sequences"] == ["x"] and body["max_tokens"] == 8192
    assert json.dumps(body).count("input_schema") == 2
