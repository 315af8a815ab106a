"""Bad input (contract j, k): non-finite numbers and bad settings are refused before anything is
sent, in the core and in both adapters alike; odd-but-valid 200 answers to a stream request are
either used (a JSON completion) or refused (no events at all), never an empty success."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import a2agent
from a2agent import A2AgentClient, AsyncA2AgentClient, InvalidInputError
from tests.conftest import Api
from tests.faults.helpers import (
    KEY,
    PAYLOAD,
    USAGE,
    answer,
    completion_body,
    make_api,
    ok_reply,
    run,
    run_raises,
)
from tests.faults.server import FaultServer, json_reply, respond, sse_reply

Hunt = Callable[..., None]
NAN, INF = float("nan"), float("inf")


# -- (j) non-finite numbers anywhere in the payload ------------------------------------------------
def _tool(schema_value: float) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
        "type": "object", "properties": {"x": {"type": "number", "maximum": schema_value}}}}}]


NONFINITE = {
    "temperature_nan": ({"temperature": NAN}, ["temperature"]),
    "temperature_inf": ({"temperature": INF}, ["temperature"]),
    "top_p_neg_inf": ({"top_p": -INF}, ["top_p"]),
    "tool_schema_inf": ({"tools": _tool(INF)}, ["tools", "maximum"]),
    "tool_schema_nan": ({"tools": _tool(NAN)}, ["tools", "maximum"]),
    "extra_field_nested_inf": ({"metadata": {"scores": [1.0, INF]}}, ["metadata"]),
}


@pytest.mark.parametrize("name", list(NONFINITE))
def test_non_finite_payload_is_refused_before_sending(mode: str, fmt: str, kind: str, name: str,
                                                      server: FaultServer, hunt: Hunt) -> None:
    extra, path_parts = NONFINITE[name]
    server.always(ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind, {**PAYLOAD, **extra}))
    assert isinstance(exc, InvalidInputError), repr(exc)
    for part in path_parts:
        assert part in str(exc), f"the message should name the field path ({part!r}): {exc}"
    assert server.request_count == 0
    hunt(exc)


# -- (j) content a backend refuses (or crashes on): refused before sending, naming the path ----------
BAD_CONTENT = {
    "text_part_null": ([{"type": "text", "text": None}], r"messages[0].content[0].text must be a string, got None"),
    "text_part_number": ([{"type": "text", "text": "a"}, {"type": "text", "text": 123}],
                         "messages[0].content[1].text must be a string, got int"),
    "part_not_a_dict": (["hi"], "messages[0].content[0] must be a dict"),
    "content_number": (7, "messages[0].content must be a string, a list of content parts or None"),
    "lone_surrogate": ("a\ud800", "payload['messages'][0]['content'] | cannot be encoded as UTF-8"),  # wire path
}


@pytest.mark.parametrize("name", list(BAD_CONTENT))
def test_bad_content_is_refused_before_sending(mode: str, fmt: str, kind: str, name: str,
                                               server: FaultServer, hunt: Hunt) -> None:
    content, message = BAD_CONTENT[name]
    server.always(ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind, {**PAYLOAD, "messages": [{"role": "user", "content": content}]}))
    assert isinstance(exc, InvalidInputError), repr(exc)
    assert all(fragment in str(exc) for fragment in message.split(" | ")), str(exc)
    assert server.request_count == 0  # not sent, so not retried either
    hunt(exc)


# -- (j) bad settings at construction: core clients and both adapters -------------------------------
def _build(target: str, **kw: Any) -> Any:
    kw.setdefault("api_key", KEY)
    if target == "A2AgentClient":
        return A2AgentClient(**kw)
    if target == "AsyncA2AgentClient":
        return AsyncA2AgentClient(**kw)
    if target == "ChatA2Agent":
        from langchain_a2agent import ChatA2Agent

        return ChatA2Agent(model="glm-5", **kw)
    from llama_index_a2agent import A2AgentLLM

    if "base_url" in kw:
        kw["api_base"] = kw.pop("base_url")
    return A2AgentLLM(model="glm-5", **kw)


TARGETS = ["A2AgentClient", "AsyncA2AgentClient", "ChatA2Agent", "A2AgentLLM"]
BAD_SETTINGS = {
    "timeout_inf": ({"timeout": INF}, "timeout"),
    "timeout_nan": ({"timeout": NAN}, "timeout"),
    "timeout_negative": ({"timeout": -1}, "timeout"),
    "timeout_zero": ({"timeout": 0}, "timeout"),
    "max_retries_negative": ({"max_retries": -1}, "max_retries"),
    "default_headers_int_value": ({"default_headers": {"X": 1}}, "header"),
    "default_headers_content_length": ({"default_headers": {"Content-Length": "3"}}, "Content-Length"),
    "default_headers_transfer_encoding": ({"default_headers": {"transfer-encoding": "chunked"}},
                                          "transfer-encoding"),
    "base_url_without_scheme": ({"base_url": "api.a2agent.me/v1"}, "base_url|api_base"),
}


@pytest.mark.parametrize("setting", list(BAD_SETTINGS))
@pytest.mark.parametrize("target", TARGETS)
def test_bad_setting_is_refused_at_construction(target: str, setting: str, hunt: Hunt) -> None:
    kwargs, match = BAD_SETTINGS[setting]
    with pytest.raises(InvalidInputError, match=match) as info:
        _build(target, **kwargs)
    hunt(info.value)


@pytest.mark.parametrize("target", ["ChatA2Agent", "A2AgentLLM"])
def test_unknown_api_format_is_invalid_input_in_adapters(target: str, hunt: Hunt) -> None:
    with pytest.raises(InvalidInputError, match="api_format") as info:
        _build(target, api_format="gemini")
    hunt(info.value)


@pytest.mark.parametrize("target", ["A2AgentClient", "AsyncA2AgentClient"])
def test_unknown_api_format_is_invalid_input_in_core(target: str) -> None:
    with pytest.raises(InvalidInputError, match="api_format"):
        _build(target, api_format="gemini")


@pytest.mark.parametrize("name", ["Content-Length", "TRANSFER-ENCODING"])
def test_framing_headers_per_call_are_refused_before_sending(mode: str, fmt: str, kind: str, name: str,
                                                              server: FaultServer, hunt: Hunt) -> None:
    server.always(ok_reply(fmt, kind))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind, headers={name: "3"}))
    assert isinstance(exc, InvalidInputError) and name in str(exc), repr(exc)
    assert server.request_count == 0
    hunt(exc)


def test_good_settings_are_accepted() -> None:
    for target in TARGETS:
        _build(target, timeout=2.5, max_retries=0, default_headers={"X-Team": "core"},
               base_url="http://127.0.0.1:9/v1")


@pytest.mark.parametrize(
    "tool",
    [{"type": "function", "function": {"parameters": {}}},
     {"type": "function", "function": {"name": "", "parameters": {}}},
     {"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                                                                   "properties": {"x": {"maximum": INF}}}}}],
    ids=["no_name", "empty_name", "non_finite_schema"],
)
def test_bind_tools_refuses_broken_tool_dicts(tool: dict[str, Any], server: FaultServer) -> None:
    from langchain_a2agent import ChatA2Agent

    llm = ChatA2Agent(api_key=KEY, base_url=server.base_url, model="glm-5", max_retries=0)
    server.always(ok_reply("openai", "json"))
    with pytest.raises(InvalidInputError):
        llm.bind_tools([tool]).invoke("hi")
    assert server.request_count == 0


# -- (k) a stream request answered with a 200 JSON completion ---------------------------------------
def _essentials(completion: dict[str, Any]) -> tuple[Any, ...]:
    choice = completion["choices"][0]
    usage = completion.get("usage") or {}
    return (completion.get("id"), completion.get("model"), choice["message"].get("role"),
            choice["message"].get("content"), choice["message"].get("tool_calls"), choice.get("finish_reason"),
            usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens"))


EXPECTED = {"openai": ("chatcmpl-1", "glm-5", "assistant", "ok", None, "stop", 3, 2, 5),
            "anthropic": ("msg_1", "glm-5", "assistant", "ok", None, "stop", 3, 2, 5)}


async def _chunks_and_final(api: Api) -> tuple[list[Any], Any]:
    if api.mode == "sync":
        with api.client.stream_chat_completions(dict(PAYLOAD)) as stream:
            chunks = list(stream)
            return chunks, stream.get_final_completion()
    async with api.client.stream_chat_completions(dict(PAYLOAD)) as stream:
        chunks = [c async for c in stream]
        return chunks, await stream.get_final_completion()


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_stream_answered_with_a_json_completion(mode: str, fmt: str, content_type: str,
                                                server: FaultServer) -> None:
    server.always(json_reply(completion_body(fmt), content_type=content_type))
    api = make_api(mode, server, fmt)
    chunks, final = run(api, _chunks_and_final)
    assert len(chunks) == 1, chunks
    choice = chunks[0]["choices"][0]
    assert choice["delta"].get("content") == "ok"
    assert choice["finish_reason"] == "stop"
    usage = chunks[0]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 2, 5)
    assert _essentials(final) == EXPECTED[fmt]
    if fmt == "openai":
        assert final["usage"] == USAGE
    assert server.request_count == 1


NO_EVENTS = {
    "empty_sse": lambda: sse_reply(),
    "empty_no_content_type": lambda: respond(200, b"", content_type=None),
    "comments_only": lambda: sse_reply(": keep-alive\n\n", ": ping\n\n"),
    "html_page": lambda: respond(200, "<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>",
                                 content_type="text/html"),
    "html_page_as_sse": lambda: respond(200, "<html><body>Gateway login</body></html>",
                                        content_type="text/event-stream"),
}


@pytest.mark.parametrize("name", list(NO_EVENTS))
def test_stream_without_any_event_is_an_error(mode: str, fmt: str, name: str, server: FaultServer,
                                              hunt: Hunt) -> None:
    server.always(NO_EVENTS[name]())
    api = make_api(mode, server, fmt, max_retries=0)
    exc = run_raises(api, lambda a: answer(a, "stream"))
    assert isinstance(exc, a2agent.APIResponseError), repr(exc)
    hunt(exc)
