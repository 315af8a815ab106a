"""Stream accumulator: the tolerances real gateways need."""

from __future__ import annotations

from typing import Any

import pytest

from a2agent import StreamAccumulator
from a2agent.integration import plain_text


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, index: int = 0, **top: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "c1", "model": "glm-5", "created": 5, "object": "chat.completion.chunk"}
    base.update(top)
    if delta is not None or finish is not None:
        base["choices"] = [{"index": index, "delta": delta or {}, "finish_reason": finish}]
    return base


def tc(index: int | None, id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"function": {"name": name, "arguments": args}}
    if index is not None:
        out["index"] = index
    if id is not None:
        out["id"] = id
        out["type"] = "function"
    return out


def run(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    acc = StreamAccumulator()
    for c in chunks:
        acc.feed(c)  # type: ignore[arg-type]
    return dict(acc.completion())


def test_text_and_reasoning_and_usage() -> None:
    out = run([
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "think "}),
        chunk({"reasoning_content": "hard", "content": None}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
    ])
    msg = out["choices"][0]["message"]
    assert msg == {"role": "assistant", "content": "Hello", "reasoning_content": "think hard"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["total_tokens"] == 7
    assert (out["id"], out["model"], out["created"]) == ("c1", "glm-5", 5)


def test_tool_calls_merged_by_index_several_per_chunk_and_none_fields() -> None:
    out = run([
        chunk({"role": "assistant", "content": None, "tool_calls": [tc(0, "a", "add", ""), tc(1, "b", "mul", None)]}),
        chunk({"tool_calls": [tc(0, args='{"x":'), tc(1, args='{"y":')]}),
        chunk({"tool_calls": [tc(1, None, None, "2}"), tc(0, None, None, "1}")]}),
        chunk({"tool_calls": None}),
        chunk({}, "tool_calls"),
    ])
    calls = out["choices"][0]["message"]["tool_calls"]
    assert calls == [
        {"id": "a", "type": "function", "function": {"name": "add", "arguments": '{"x":1}'}},
        {"id": "b", "type": "function", "function": {"name": "mul", "arguments": '{"y":2}'}},
    ]
    assert out["choices"][0]["message"]["content"] is None
    assert out["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("fragments", "expected_name"),
    [([("get_", ""), ("weather", "{}")], "get_weather"), ([("lookup", "{"), ("lookup", "}")], "lookup")],
    ids=["split_name_concatenates", "repeated_name_not_doubled"],
)
def test_tool_name_fragments(fragments: list[tuple[str, str]], expected_name: str) -> None:
    chunks = [chunk({"tool_calls": [tc(0, "id1" if i == 0 else None, n, a)]}) for i, (n, a) in enumerate(fragments)]
    assert run(chunks)["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == expected_name


def test_missing_tool_call_index_uses_position() -> None:
    out = run([chunk({"tool_calls": [tc(None, "x", "f", "{}")]})])
    assert out["choices"][0]["message"]["tool_calls"][0]["id"] == "x"


def test_multiple_choices_and_unknown_finish_reason_and_logprobs() -> None:
    lp = {"content": [{"token": "a", "logprob": -0.1}]}
    out = run([
        {**chunk({"content": "a"}, index=0), "choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": lp}]},
        chunk({"content": "b"}, index=1),
        chunk({}, "insufficient_system_resource", index=1),
        chunk({}, "stop", index=0, system_fingerprint="fp1"),
    ])
    assert [c["message"]["content"] for c in out["choices"]] == ["a", "b"]
    assert out["choices"][1]["finish_reason"] == "insufficient_system_resource"
    assert out["choices"][0]["logprobs"] == {"content": [{"token": "a", "logprob": -0.1}]}
    assert out["choices"][1]["logprobs"] is None
    assert out["system_fingerprint"] == "fp1"


def test_input_chunks_not_mutated() -> None:
    c = chunk({"tool_calls": [tc(0, "a", "f", "{}")]})
    snapshot = repr(c)
    run([c, c])
    assert repr(c) == snapshot


@pytest.mark.parametrize(("chunk", "text"), [
    ({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None, "logprobs": None}]}, "hi"),
    ({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], "usage": None}, ""),
    ({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}, None),
    ({"choices": [{"index": 0, "delta": {"content": "hi"}, "logprobs": {"content": [{}]}}]}, None),
    ({"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]}, None),
    ({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0}]}}]}, None),
    ({"choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": {"prompt_tokens": 1}}, None),
    ({"choices": [], "usage": {"prompt_tokens": 1}}, None),
])
def test_plain_text_tells_the_text_only_chunk(chunk: dict[str, Any], text: str | None) -> None:
    assert plain_text(chunk) == text
