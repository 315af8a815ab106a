"""Anthropic Messages codec: canonical request -> Anthropic body, and responses/events back."""

from __future__ import annotations

from typing import Any

import pytest

from a2agent import APIResponseError, InvalidInputError, StreamAccumulator, StreamError
from a2agent._anthropic import AnthropicCodec
from a2agent._codec import DONE
from a2agent._sse import ServerSentEvent

CODEC = AnthropicCodec()
CALL = {"id": "t1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}


def encode(**payload: Any) -> dict[str, Any]:
    payload.setdefault("model", "glm-5")
    payload.setdefault("messages", [{"role": "user", "content": "hi"}])
    return CODEC.encode_request(payload, stream=False)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, {"model": "glm-5", "max_tokens": 8192, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi"}]}]}),
        ({"model": "deepseek-chat"}, {"max_tokens": 8192}),
        ({"max_tokens": 50, "temperature": 0.5, "top_p": 0.9, "stop": "END"},
         {"max_tokens": 50, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["END"]}),
        ({"max_completion_tokens": 60}, {"max_tokens": 60}),
        ({"messages": [{"role": "system", "content": "a"}, {"role": "developer", "content": "b"},
                       {"role": "user", "content": "hi"}]}, {"system": "a\n\nb"}),
        ({"thinking": {"type": "enabled"}}, {"thinking": {"type": "enabled", "budget_tokens": 8191}}),
        ({"thinking": {"type": "enabled"}, "max_tokens": 100_000}, {"thinking": {"type": "enabled",
                                                                                 "budget_tokens": 8192}}),
        ({"reasoning_effort": "low"}, {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ({"thinking": {"type": "disabled"}}, {"thinking": {"type": "disabled"}}),
        ({"top_k": 5, "metadata": {"user_id": "u"}}, {"top_k": 5, "metadata": {"user_id": "u"}}),
    ],
    ids=["defaults", "catalogue_max_tokens", "sampling", "max_completion_tokens", "system", "thinking",
         "thinking_budget_capped", "effort", "thinking_off", "passthrough"],
)
def test_encode_params(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    body = encode(**payload)
    for key, value in expected.items():
        assert body[key] == value, key
    assert "seed" not in body and "stream" not in body


def test_encode_content_and_history() -> None:
    body = encode(messages=[
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVB", "filename": "a.pdf"}}]},
        {"role": "assistant", "content": "", "reasoning_content": "r", "reasoning_signature": "sig",
         "tool_calls": [CALL, {**CALL, "id": "t2", "function": {"name": "f", "arguments": "{bad"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "2"},
        {"role": "tool", "tool_call_id": "t2", "content": "Error: bad args", "is_error": True},
        {"role": "user", "content": "and then?"},
    ])
    user, assistant, results = body["messages"]
    assert user["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVB"},
         "title": "a.pdf"}]
    assert assistant == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "r", "signature": "sig"},
        {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}},
        {"type": "tool_use", "id": "t2", "name": "f", "input": {}}]}
    assert results == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "2"}]},
        {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "Error: bad args"}],
         "is_error": True},
        {"type": "text", "text": "and then?"}]}


TOOLS = [{"type": "function", "function": {"name": "add", "description": "Add.", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [(None, None, None), ("auto", None, {"type": "auto"}), ("required", None, {"type": "any"}),
     ("none", False, {"type": "none"}), ({"type": "function", "function": {"name": "add"}}, None,
                                         {"type": "tool", "name": "add"}),
     ("auto", False, {"type": "auto", "disable_parallel_tool_use": True})],
    ids=["unset", "auto", "required", "none", "named", "no_parallel"],
)
def test_encode_tools(choice: Any, parallel: Any, expected: Any) -> None:
    payload: dict[str, Any] = {"tools": TOOLS}
    if choice is not None:
        payload["tool_choice"] = choice
    if parallel is not None:
        payload["parallel_tool_calls"] = parallel
    body = encode(**payload)
    assert body["tools"] == [{"name": "add", "description": "Add.", "input_schema": {"type": "object"}}]
    assert body.get("tool_choice") == expected


@pytest.mark.parametrize(
    ("payload", "match"),
    [({"n": 2}, "several choices"), ({"logprobs": True}, "log probabilities"),
     ({"response_format": {"type": "json_object"}}, "use tool calling"),
     ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, "input_audio"),
     ({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f1"}}]}]}, "base64 data URLs"),
     ({"tools": TOOLS, "tool_choice": "sometimes"}, "no Anthropic equivalent")],
    ids=["n", "logprobs", "response_format", "audio", "file_id", "bad_tool_choice"],
)
def test_encode_refuses_what_the_format_lacks(payload: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        encode(**payload)


def test_encode_stream_flag_and_no_mutation() -> None:
    payload = {"model": "glm-5", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"x": 1}}
    snapshot = repr(payload)
    body = CODEC.encode_request(payload, stream=True)
    assert body["stream"] is True and "stream_options" not in body
    assert repr(payload) == snapshot


MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "glm-5", "stop_reason": "tool_use",
           "content": [{"type": "thinking", "thinking": "hm", "signature": "s1"}, {"type": "text", "text": "ok"},
                       {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 1}}],
           "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 4,
                     "cache_creation_input_tokens": 1}}


def test_decode_response() -> None:
    out = CODEC.decode_response(MESSAGE)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {"role": "assistant", "content": "ok", "reasoning_content": "hm",
                                 "reasoning_signature": "s1", "tool_calls": [
                                     {"id": "toolu_1", "type": "function",
                                      "function": {"name": "add", "arguments": '{"a": 1}'}}]}
    assert out["usage"] == {"prompt_tokens": 15, "completion_tokens": 5, "total_tokens": 20,
                            "prompt_tokens_details": {"cached_tokens": 4}}
    with pytest.raises(APIResponseError):
        CODEC.decode_response({"type": "message"})


@pytest.mark.parametrize(("reason", "finish"), [("end_turn", "stop"), ("stop_sequence", "stop"),
                                                ("max_tokens", "length"), ("refusal", "content_filter"),
                                                ("model_context_window_exceeded", "model_context_window_exceeded")])
def test_stop_reasons(reason: str, finish: str) -> None:
    assert CODEC.decode_response({**MESSAGE, "stop_reason": reason})["choices"][0]["finish_reason"] == finish


def ev(name: str, **data: Any) -> ServerSentEvent:
    import json

    return ServerSentEvent(json.dumps({"type": name, **data}), name)


def test_event_decoder_builds_the_same_message() -> None:
    decode = CODEC.event_decoder()
    events = [
        ev("message_start", message={"id": "msg_1", "model": "glm-5", "usage": {"input_tokens": 10,
                                                                              "cache_read_input_tokens": 4}}),
        ev("ping"),
        ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "h"}),
        ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "m"}),
        ev("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "s1"}),
        ev("content_block_stop", index=0),
        ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "o"}),
        ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "k"}),
        ev("content_block_start", index=2, content_block={"type": "tool_use", "id": "toolu_1", "name": "add"}),
        ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '{"a"'}),
        ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": ": 1}"}),
        ev("content_block_stop", index=2),
        ev("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 5}),
        ev("future_event_type"),
    ]
    acc = StreamAccumulator()
    for event in events:
        chunk = decode(event)
        if chunk is not None:
            acc.feed(chunk)
    assert decode(ev("message_stop")) is DONE
    streamed = acc.completion()
    plain = CODEC.decode_response({**MESSAGE, "usage": {"input_tokens": 10, "output_tokens": 5,
                                                        "cache_read_input_tokens": 4}})
    assert streamed["choices"][0]["message"] == {**plain["choices"][0]["message"],
                                                 "tool_calls": [{"id": "toolu_1", "type": "function", "function": {
                                                     "name": "add", "arguments": '{"a": 1}'}}]}
    assert streamed["choices"][0]["finish_reason"] == "tool_calls"
    assert streamed["usage"] == plain["usage"]
    with pytest.raises(StreamError, match="Overloaded"):
        decode(ev("error", error={"type": "overloaded_error", "message": "Overloaded"}))


@pytest.mark.parametrize(
    ("tool", "is_error"),
    [({"content": "Error: looks like one, but the framework says it succeeded"}, None),
     ({"content": "the tool raised", "is_error": True}, True),
     ({"content": "fine", "is_error": False}, None)],
    ids=["error_text_is_not_a_flag", "framework_flag", "flag_false"],
)
def test_tool_result_is_error_comes_from_the_flag(tool: dict[str, Any], is_error: bool | None) -> None:
    body = encode(messages=[{"role": "user", "content": "go"},
                            {"role": "assistant", "content": None, "tool_calls": [CALL]},
                            {"role": "tool", "tool_call_id": "t1", **tool}])
    result = body["messages"][-1]["content"][0]
    assert result.get("is_error") is is_error and set(result) <= {"type", "tool_use_id", "content", "is_error"}


def test_openai_codec_strips_internal_keys() -> None:
    from a2agent._openai import OpenAICodec

    messages = [{"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "r",
                 "reasoning_signature": "sig"},
                {"role": "tool", "tool_call_id": "t1", "content": "x", "is_error": True}]
    body = OpenAICodec().encode_request({"model": "glm-5", "messages": messages}, stream=False)
    assert body["messages"] == [{"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "r"},
                                {"role": "tool", "tool_call_id": "t1", "content": "x"}]
    assert messages[1]["is_error"] is True  # the caller's messages are untouched
