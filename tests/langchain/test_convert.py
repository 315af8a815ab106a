"""Pure LangChain <-> canonical mapping (no network)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGenerationChunk
from pydantic import ValidationError

from a2agent import InvalidInputError
from langchain_a2agent import _convert
from langchain_a2agent._convert import BlockIndexer, chunk_to_generation, completion_to_result, messages_to_dicts

PNG = "iVBORw0KGgo="
CALL = {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}

CASES: list[tuple[str, BaseMessage, list[dict[str, Any]]]] = [
    ("system", SystemMessage("be brief"), [{"role": "system", "content": "be brief"}]),
    ("developer", SystemMessage("x", additional_kwargs={"__openai_role__": "developer"}),
     [{"role": "developer", "content": "x"}]),
    ("human_named", HumanMessage("hi", name="ann"), [{"role": "user", "content": "hi", "name": "ann"}]),
    ("human_parts", HumanMessage([
        "plain",
        {"type": "text", "text": "t"},
        {"type": "image_url", "image_url": "https://x/a.png"},
        {"type": "image_url", "image_url": {"url": "https://x/b.png", "detail": "high"}},
        {"type": "image", "base64": PNG, "mime_type": "image/png"},
        {"type": "image", "url": "https://x/c.png"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "audio", "base64": "UklGRg==", "mime_type": "audio/wav"},
        {"type": "file", "base64": "JVBERi0=", "mime_type": "application/pdf", "filename": "a.pdf"},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]), [{"role": "user", "content": [
        {"type": "text", "text": "plain"},
        {"type": "text", "text": "t"},
        {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
        {"type": "image_url", "image_url": {"url": "https://x/b.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://x/c.png"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]}]),
    ("ai_text", AIMessage("hello"), [{"role": "assistant", "content": "hello"}]),
    ("ai_tool_calls_with_reasoning", AIMessage("", tool_calls=[CALL], additional_kwargs={"reasoning_content": "hm"}),
     [{"role": "assistant", "content": None, "reasoning_content": "hm", "tool_calls": [
         {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}]}]),
    ("ai_v1_blocks", AIMessage([{"type": "reasoning", "reasoning": "because"}, {"type": "text", "text": "ok"},
                                {"type": "tool_call", **CALL}], tool_calls=[CALL]),
     [{"role": "assistant", "content": "ok", "reasoning_content": "because", "tool_calls": [
         {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}]}]),
    ("ai_invalid_tool_call", AIMessage("", invalid_tool_calls=[
        {"name": "add", "args": "{bad", "id": "c9", "error": "x", "type": "invalid_tool_call"}]),
     [{"role": "assistant", "content": None, "tool_calls": [
         {"id": "c9", "type": "function", "function": {"name": "add", "arguments": "{bad"}}]}]),
    ("tool_text", ToolMessage("3", tool_call_id="c1"), [{"role": "tool", "tool_call_id": "c1", "content": "3"}]),
    ("tool_error", ToolMessage("boom", tool_call_id="c1", status="error"),
     [{"role": "tool", "tool_call_id": "c1", "content": "Error: boom", "is_error": True}]),
    ("tool_image_deferred", ToolMessage([{"type": "text", "text": "see"},
                                         {"type": "image", "base64": PNG, "mime_type": "image/png"}],
                                        tool_call_id="c1"),
     [{"role": "tool", "tool_call_id": "c1", "content": "see"},
      {"role": "user", "content": [{"type": "text", "text": "Attachments returned by tool call c1:"},
                                   {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]),
    ("chat_message_roles", ChatMessage("x", role="human"), [{"role": "user", "content": "x"}]),
    ("function_message", FunctionMessage("4", name="f"), [{"role": "function", "name": "f", "content": "4"}]),
]


@pytest.mark.parametrize(("message", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_messages_to_dicts(message: BaseMessage, expected: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(message)
    assert messages_to_dicts([message]) == expected
    assert message == before  # never mutated


def test_tool_attachments_follow_the_whole_run_of_tool_messages() -> None:
    image = {"type": "image", "url": "https://x/p.png"}
    out = messages_to_dicts([
        AIMessage("", tool_calls=[CALL, {**CALL, "id": "c2"}]),
        ToolMessage([image], tool_call_id="c1"),
        ToolMessage("plain", tool_call_id="c2"),
        HumanMessage("next"),
    ])
    assert [m["role"] for m in out] == ["assistant", "tool", "tool", "user", "user"]
    assert out[3]["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/p.png"}}


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([RemoveMessage(id="x")], r"messages\[0\]: unsupported message type RemoveMessage"),
        ([HumanMessage([{"type": "video_frame", "x": 1}])], r"messages\[0\].content\[0\]: unsupported content block"),
        ([SystemMessage([{"type": "image_url", "image_url": "u"}])], r"only text can go here"),
        ([HumanMessage.model_construct(content=[42])], r"content blocks must be str or dict"),
    ],
    ids=["unknown_message", "unknown_block", "image_in_system", "bad_block_type"],
)
def test_bad_input_is_named(messages: list[BaseMessage], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        messages_to_dicts(messages)


RESPONSE = {
    "id": "r1", "model": "glm-5", "system_fingerprint": "fp", "object": "chat.completion",
    "choices": [
        {"index": 0, "finish_reason": "tool_calls", "logprobs": {"content": [{"token": "a", "logprob": -0.1}]},
         "message": {"role": "assistant", "content": None, "reasoning_content": "think",
                     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{bad"}},
                                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": ""}}]}},
        {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "second"}},
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
              "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}},
}


def test_completion_to_result() -> None:
    result = completion_to_result(RESPONSE)
    first, second = (g.message for g in result.generations)
    assert isinstance(first, AIMessage)
    assert [c["name"] for c in first.invalid_tool_calls] == ["f"] and "not valid JSON" in first.invalid_tool_calls[0][
        "error"]
    assert first.tool_calls == [{"name": "g", "args": {}, "id": "c2", "type": "tool_call"}]
    assert first.additional_kwargs == {"reasoning_content": "think"}
    assert first.content_blocks[0] == {"type": "reasoning", "reasoning": "think"}
    assert first.usage_metadata == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                                    "input_token_details": {"cache_read": 4}, "output_token_details": {"reasoning": 2}}
    assert first.response_metadata == {"model_name": "glm-5", "model_provider": "a2agent", "id": "r1",
                                       "system_fingerprint": "fp", "finish_reason": "tool_calls",
                                       "logprobs": RESPONSE["choices"][0]["logprobs"]}
    assert second.content == "second"
    assert result.llm_output == {"token_usage": RESPONSE["usage"], "model_name": "glm-5", "system_fingerprint": "fp",
                                 "id": "r1"}


def test_deepseek_cache_fields_map_to_cache_read() -> None:
    msg = completion_to_result({**RESPONSE, "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10,
                                                      "prompt_cache_hit_tokens": 7}}).generations[0].message
    assert msg.usage_metadata["input_token_details"] == {"cache_read": 7}  # type: ignore[index]


@pytest.mark.parametrize(
    ("chunk", "check"),
    [
        ({"choices": []}, lambda g: g is None),
        ({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
         lambda g: g.message.usage_metadata["total_tokens"] == 3 and g.message.content == ""),
        ({"id": "x", "choices": [{"index": 0, "delta": {"content": "hi", "reasoning_content": "r"}}]},
         lambda g: g.message.content == "hi" and g.message.additional_kwargs == {"reasoning_content": "r"}),
        ({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}},
            {"index": 1, "id": "b", "function": {"name": "g", "arguments": None}}]}}]},
         lambda g: [(c["index"], c["name"], c["args"]) for c in g.message.tool_call_chunks] == [(0, "f", "{"),
                                                                                               (1, "g", None)]),
        ({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
         lambda g: g.message.response_metadata["finish_reason"] == "length"
         and g.generation_info == {"finish_reason": "length"}),
    ],
    ids=["empty", "usage_only", "text_and_reasoning", "tool_chunks", "finish"],
)
def test_chunk_to_generation(chunk: dict[str, Any], check: Any) -> None:
    assert check(chunk_to_generation(chunk))


@pytest.mark.parametrize(("text", "chunk_id"), [("hi", "chatcmpl-1"), ("", "x"), ("héllo 你好 🙂", None),
                                              ("", None), (" \n", "")])
def test_text_chunk_copy_equals_validated_construction(text: str, chunk_id: str | None) -> None:
    """A text chunk is copied from templates without validation (speed): it must be exactly what
    the validating constructors build, and share no mutable field with the templates or another
    chunk (a field LangChain adds later would show here)."""
    assert _convert._COPY_MATCHES  # the import-time check passed: chunks take the copy
    chunk = {"id": chunk_id, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    first, second = chunk_to_generation(chunk), chunk_to_generation(chunk)
    assert first is not None and second is not None
    message = AIMessageChunk(content=text, id=chunk_id) if chunk_id else AIMessageChunk(content=text)
    message.response_metadata["model_provider"] = "a2agent"
    expected = ChatGenerationChunk(message=message)
    assert first == expected and first.text == text and first.message.id == (chunk_id or None)
    assert first.message.model_dump() == expected.message.model_dump()
    assert first.message.model_fields_set == expected.message.model_fields_set
    assert first.model_fields_set == expected.model_fields_set
    for name, value in first.message.__dict__.items():
        if isinstance(value, (dict, list, set)):
            assert value is not second.message.__dict__[name], name
            assert value is not _convert._TEXT_MESSAGE.__dict__[name], name
    first.message.additional_kwargs["x"] = 1
    first.message.response_metadata["y"] = 2
    assert second.message.additional_kwargs == {} and second.message.response_metadata == {"model_provider": "a2agent"}
    assert (first + second).message.content == text + text


def test_text_chunks_fall_back_to_the_constructors_when_a_copy_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a LangChain/pydantic release made a copied template differ from a constructed chunk, the
    import-time check turns the copy off and chunks are built by the validating constructors."""
    monkeypatch.setattr(_convert, "_copied_text_generation", lambda text, chunk_id: ChatGenerationChunk(
        message=AIMessageChunk(content=text + "?", id=chunk_id)))
    assert _convert._copy_matches() is False
    monkeypatch.setattr(_convert, "_COPY_MATCHES", False)
    generation = chunk_to_generation({"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}]})
    assert generation is not None and generation.message.content == "hi"
    assert generation.message.response_metadata == {"model_provider": "a2agent"}


@pytest.mark.parametrize("odd", [{"content": 5, "id": "a"}, {"content": "t", "id": 7}])
def test_text_chunk_odd_types_take_the_validating_constructor(odd: dict[str, Any]) -> None:
    chunk = {"id": odd["id"], "choices": [{"index": 0, "delta": {"content": odd["content"]}}]}
    try:
        generation = chunk_to_generation(chunk)
    except ValidationError:
        return  # refused by validation, as the constructor does (never an unvalidated int in a message)
    assert generation is not None
    assert isinstance(generation.message.id, str) and isinstance(generation.message.content, (str, list))


def _delta(**delta: Any) -> dict[str, Any]:
    return {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def _call(index: int, args: str, **start: Any) -> dict[str, Any]:
    return {"index": index, "function": {"arguments": args, **({"name": "f"} if start else {})}, **start}


# (deltas, expected (type, index) of each v1 block per chunk): a new block whenever the kind changes,
# every fragment of one tool call in its own block, text after tool calls (Anthropic) in a new one.
BLOCK_CASES = [
    ("reasoning_text_tools",
     [_delta(reasoning_content="r"), _delta(reasoning_content="r"), _delta(content="t"),
      _delta(tool_calls=[_call(0, "", id="a")]), _delta(tool_calls=[_call(0, "{}")]),
      _delta(tool_calls=[_call(1, "{}", id="b")])],
     [[("reasoning", 0)], [("reasoning", 0)], [("text", 1)], [("tool_call_chunk", 2)], [("tool_call_chunk", 2)],
      [("tool_call_chunk", 3)]]),
    ("text_after_tool_call",
     [_delta(content="t"), _delta(tool_calls=[_call(0, "{}", id="a")]), _delta(content="more")],
     [[("text", 0)], [("tool_call_chunk", 1)], [("text", 2)]]),
    ("interleaved_tool_fragments",
     [_delta(tool_calls=[_call(0, "", id="a"), _call(1, "", id="b")]), _delta(tool_calls=[_call(0, "{}")]),
      _delta(tool_calls=[_call(1, "{}")])],
     [[("tool_call_chunk", 0), ("tool_call_chunk", 1)], [("tool_call_chunk", 0)], [("tool_call_chunk", 1)]]),
]


@pytest.mark.parametrize(("deltas", "expected"), [c[1:] for c in BLOCK_CASES], ids=[c[0] for c in BLOCK_CASES])
def test_v1_block_indices(deltas: list[dict[str, Any]], expected: list[list[tuple[str, int]]]) -> None:
    blocks = BlockIndexer(v1=True)
    seen = []
    for delta in deltas:
        generation = chunk_to_generation(delta, blocks)
        assert generation is not None
        seen.append([(b["type"], b["index"]) for b in generation.message.content])  # type: ignore[index,union-attr]
        tool_positions = [b["index"] for b in generation.message.content if b["type"] == "tool_call_chunk"]  # type: ignore[index,union-attr]
        assert [c["index"] for c in generation.message.tool_call_chunks] == tool_positions
    assert seen == expected
