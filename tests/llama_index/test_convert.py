"""Pure LlamaIndex <-> canonical mapping (no network)."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    ChatMessage,
    CitableBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)

from a2agent import InvalidInputError
from a2agent._canonical import split_tool_attachments
from llama_index_a2agent._convert import StreamState, completion_to_response, messages_to_dicts

MEDIA = Path(__file__).parent.parent / "media"
RED_PNG = "data:image/png;base64," + base64.b64encode((MEDIA / "red.png").read_bytes()).decode()
WAV_PART = {"type": "input_audio", "input_audio": {"data": "UklGRi4uLi4=", "format": "wav"}}


def user(*blocks: Any) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, blocks=list(blocks))


CASES: list[tuple[str, ChatMessage, list[dict[str, Any]]]] = [
    ("user_text", ChatMessage(role="user", content="hi"), [{"role": "user", "content": "hi"}]),
    ("system", ChatMessage(role="system", content="be brief"), [{"role": "system", "content": "be brief"}]),
    ("image_url", user(TextBlock(text="what?"), ImageBlock(url="https://x/a.png", detail="low")),
     [{"role": "user", "content": [{"type": "text", "text": "what?"},
                                   {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "low"}}]}]),
    ("image_path", user(ImageBlock(path=MEDIA / "red.png")),
     [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": RED_PNG}}]}]),
    ("audio", user(AudioBlock(audio=b"RIFF....", format="wav")),
     [{"role": "user", "content": [WAV_PART]}]),
    ("document", user(DocumentBlock(data=b"%PDF-1.4 x", title="a.pdf")),
     [{"role": "user", "content": [{"type": "file", "file": {
         "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQgeA=="}}]}]),
    ("cache_point_ignored", user(TextBlock(text="x"), CachePoint(cache_control=CacheControl(type="ephemeral"))),
     [{"role": "user", "content": "x"}]),
    ("assistant_thinking_and_tools", ChatMessage(role="assistant", blocks=[
        ThinkingBlock(content="hmm"), TextBlock(text=""),
        ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 1}),
        ToolCallBlock(tool_call_id="c2", tool_name="mul", tool_kwargs='{"b": 2}')]),
     [{"role": "assistant", "content": None, "reasoning_content": "hmm", "tool_calls": [
         {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
         {"id": "c2", "type": "function", "function": {"name": "mul", "arguments": '{"b": 2}'}}]}]),
    ("assistant_legacy_kwargs", ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [
        {"id": "c3", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
     [{"role": "assistant", "content": None, "tool_calls": [
         {"id": "c3", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]),
    ("tool", ChatMessage(role="tool", content="3", additional_kwargs={"tool_call_id": "c1", "name": "add"}),
     [{"role": "tool", "tool_call_id": "c1", "content": "3"}]),
    ("tool_image", ChatMessage(role="tool", blocks=[TextBlock(text="chart"), ImageBlock(url="https://x/c.png")],
                               additional_kwargs={"tool_call_id": "c1"}),
     [{"role": "tool", "tool_call_id": "c1", "content": "chart"},
      {"role": "user", "content": [{"type": "text", "text": "Attachments returned by tool call c1:"},
                                   {"type": "image_url", "image_url": {"url": "https://x/c.png"}}]}]),
]


@pytest.mark.parametrize(("message", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_messages_to_dicts(message: ChatMessage, expected: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(message)
    assert messages_to_dicts([message]) == expected
    assert message == before


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (user(VideoBlock(url="https://x/v.mp4")), r"messages\[0\].blocks\[0\]: unsupported content block VideoBlock"),
        (user(CitableBlock(title="t", source="s", content=[TextBlock(text="x")])), "CitableBlock"),
        (ChatMessage(role="tool", content="3"), "tool_call_id"),
        (ChatMessage(role="system", blocks=[ImageBlock(url="https://x/a.png")]), "system messages carry text only"),
        (ChatMessage(role="assistant", blocks=[ImageBlock(url="https://x/a.png")]), "assistant messages carry"),
    ],
    ids=["video", "citable", "tool_without_id", "image_in_system", "image_in_assistant"],
)
def test_unsupported_input_is_named(message: ChatMessage, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        messages_to_dicts([message])


def test_split_tool_attachments_waits_for_the_whole_run() -> None:
    image = {"type": "image_url", "image_url": {"url": "u"}}
    messages = [{"role": "tool", "tool_call_id": "a", "content": [image]},
                {"role": "tool", "tool_call_id": "b", "content": "ok"},
                {"role": "user", "content": "next"}]
    snapshot = copy.deepcopy(messages)
    out = split_tool_attachments(messages)
    assert [m["role"] for m in out] == ["tool", "tool", "user", "user"]
    assert out[0]["content"] == "" and out[2]["content"][1] == image
    assert messages == snapshot


def test_completion_to_response() -> None:
    response = completion_to_response({
        "id": "x", "model": "glm-5",
        "choices": [{"index": 0, "finish_reason": "tool_calls",
                     "logprobs": {"content": [{"token": "a", "logprob": -0.5, "bytes": [97], "top_logprobs": [
                         {"token": "a", "logprob": -0.5, "bytes": [97]}, {"token": "b", "logprob": -1.0}]}]},
                     "message": {"role": "assistant", "content": "ok", "reasoning_content": "why",
                                 "tool_calls": [{"id": "c", "type": "function",
                                                 "function": {"name": "f", "arguments": '{"x": 1}'}}]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
                  "completion_tokens_details": {"reasoning_tokens": 2}}})
    kinds = [type(b).__name__ for b in response.message.blocks]
    assert kinds == ["ThinkingBlock", "TextBlock", "ToolCallBlock"]
    assert response.message.content == "ok"
    assert response.additional_kwargs == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
                                          "reasoning_tokens": 2, "finish_reason": "tool_calls"}
    assert [[lp.token for lp in tok] for tok in response.logprobs or []] == [["a", "b"]]
    assert response.raw["usage"]["total_tokens"] == 7


def test_stream_state_is_cumulative_and_merges_tool_calls() -> None:
    state = StreamState()
    chunks = [
        {"id": "x", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "th"}}]},
        {"id": "x", "choices": [{"index": 0, "delta": {"content": "Hi", "tool_calls": [
            {"index": 0, "id": "a", "function": {"name": "add", "arguments": '{"a":'}},
            {"index": 1, "id": "b", "function": {"name": "mul", "arguments": ""}}]}}]},
        {"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "function": {"arguments": '{"b": 2}'}}, {"index": 0, "function": {"arguments": " 1}"}}]}}]},
        {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"id": "x", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
    ]
    responses = [r for c in chunks if (r := state.response(c)) is not None]
    assert responses[0].additional_kwargs["thinking_delta"] == "th"
    assert [r.delta for r in responses] == ["", "Hi", "", "", ""]
    second_calls = [b for b in responses[1].message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_name, b.tool_kwargs) for b in second_calls] == [("add", '{"a":'), ("mul", "")]
    last = responses[-1]
    calls = [b for b in last.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_call_id, b.tool_name, b.tool_kwargs) for b in calls] == [("a", "add", '{"a": 1}'),
                                                                             ("b", "mul", '{"b": 2}')]
    assert [c["function"]["arguments"] for c in last.message.additional_kwargs["tool_calls"]] == ['{"a": 1}',
                                                                                                 '{"b": 2}']
    assert last.message.blocks[0] == ThinkingBlock(content="th")
    assert last.additional_kwargs == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert responses[-2].additional_kwargs["finish_reason"] == "tool_calls"
