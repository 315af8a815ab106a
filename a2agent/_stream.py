"""Sans-IO stream accumulator: folds chat-completion chunks into one ``ChatCompletion``.

Tolerant of what real gateways send: several tool-call fragments in one chunk, ``None`` for any
field, ids and names only on the first fragment, a usage-only final chunk with ``choices: []``,
unknown finish reasons. Text is kept as lists of parts and joined once, so accumulation stays
linear in the stream length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .types import ChatCompletion, ChatCompletionChunk, ChatMessage, Choice, ToolCall, Usage

__all__ = ["ChoiceState", "StreamAccumulator", "completion_to_chunk", "plain_text"]


_NO_DELTA: dict[str, Any] = {}
_PLAIN_DELTA = frozenset(("content", "role"))


def plain_text(chunk: Mapping[str, Any]) -> str | None:
    """The text of a chunk that carries nothing else ("" for the opening role chunk), else None.

    Nearly every chunk of a stream is one; adapters build their framework object for it on a fast
    path (each field they leave out saves pydantic validation, ~1 µs per chunk). Anything else in
    the chunk (no choices, usage, a finish reason, logprobs, tool calls, reasoning) returns None:
    the general path.
    """
    choices = chunk.get("choices")
    if not choices or chunk.get("usage"):
        return None
    choice = choices[0]
    delta = choice.get("delta") or _NO_DELTA
    if delta.keys() <= _PLAIN_DELTA and not (choice.get("finish_reason") or choice.get("logprobs")):
        return delta.get("content") or ""
    return None


class _ToolCallState:
    __slots__ = ("args", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.args: list[str] = []

    def as_dict(self) -> ToolCall:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": "".join(self.args)}}


class ChoiceState:
    """What one choice has accumulated so far."""

    __slots__ = ("content", "finish_reason", "logprobs", "reasoning", "role", "signature", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.signature = ""  # Anthropic thinking-block signature, needed to send reasoning back
        self.tool_calls: dict[int, _ToolCallState] = {}
        self.finish_reason: str | None = None
        self.logprobs: list[Any] | None = None

    def feed(self, choice: Any) -> None:
        """Fold one chunk's choice (``delta``, ``finish_reason``, ``logprobs``) into this state."""
        delta = choice.get("delta") or _NO_DELTA
        if delta.get("role"):
            self.role = str(delta["role"])
        if delta.get("content"):
            self.content.append(delta["content"])
        if delta.get("reasoning_content"):
            self.reasoning.append(delta["reasoning_content"])
        if delta.get("reasoning_signature"):
            self.signature += str(delta["reasoning_signature"])
        if delta.get("tool_calls"):
            self.merge_tool_calls(delta["tool_calls"])
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        logprobs = choice.get("logprobs")
        if logprobs and logprobs.get("content"):
            if self.logprobs is None:
                self.logprobs = []
            self.logprobs.extend(logprobs["content"])

    def merge_tool_calls(self, deltas: list[Any]) -> None:
        for position, delta in enumerate(deltas):
            if not delta:
                continue
            index = delta.get("index")
            if index is None:  # some gateways omit index when there is one call per chunk
                index = position
            state = self.tool_calls.get(index)
            if state is None:
                state = self.tool_calls[index] = _ToolCallState()
            if delta.get("id"):
                state.id = delta["id"]
            function = delta.get("function")
            if function:
                if function.get("name"):
                    state.name = _merge_name(state.name, function["name"])
                if function.get("arguments"):
                    state.args.append(function["arguments"])

    def current_tool_calls(self) -> list[ToolCall]:
        return [self.tool_calls[i].as_dict() for i in sorted(self.tool_calls)]

    def message(self) -> ChatMessage:
        msg: ChatMessage = {"role": self.role, "content": "".join(self.content) if self.content else None}
        if self.reasoning:
            msg["reasoning_content"] = "".join(self.reasoning)
        if self.signature:
            msg["reasoning_signature"] = self.signature
        if self.tool_calls:
            msg["tool_calls"] = self.current_tool_calls()
        return msg


def _merge_name(current: str, incoming: str) -> str:
    # OpenAI sends the name whole on the first fragment; some gateways repeat it on every
    # fragment (must not double) and a few split it (must concatenate).
    if not current:
        return incoming
    return current if current == incoming else current + incoming


class StreamAccumulator:
    """``feed()`` every chunk, then ``completion()`` gives the equivalent non-streamed response."""

    __slots__ = ("choices", "created", "id", "model", "system_fingerprint", "usage")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created = 0
        self.system_fingerprint: str | None = None
        self.usage: Usage | None = None
        self.choices: dict[int, ChoiceState] = {}

    def feed(self, chunk: ChatCompletionChunk) -> None:
        if not self.id and chunk.get("id"):
            self.id = chunk["id"]
            self.model = chunk.get("model") or ""
            self.created = chunk.get("created") or 0
        if chunk.get("system_fingerprint"):
            self.system_fingerprint = chunk["system_fingerprint"]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            index = choice.get("index") or 0
            state = self.choices.get(index)
            if state is None:
                state = self.choices[index] = ChoiceState()
            state.feed(choice)

    def completion(self) -> ChatCompletion:
        choices: list[Choice] = []
        for index in sorted(self.choices):
            state = self.choices[index]
            choice: Choice = {"index": index, "message": state.message(),
                              "finish_reason": state.finish_reason,
                              "logprobs": {"content": state.logprobs} if state.logprobs is not None else None}
            choices.append(choice)
        result: ChatCompletion = {"id": self.id, "object": "chat.completion", "created": self.created,
                                  "model": self.model, "choices": choices, "usage": self.usage}
        if self.system_fingerprint:
            result["system_fingerprint"] = self.system_fingerprint
        return result


def completion_to_chunk(completion: ChatCompletion) -> ChatCompletionChunk:
    """A whole completion as the single chunk a stream of it would sum to.

    For a server that answers a stream request with a plain JSON completion: the caller still gets
    the content, tool calls, finish reason and usage, through the same streaming code path.
    """
    choices: list[Any] = []
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        delta: dict[str, Any] = {k: v for k, v in message.items() if v is not None and k != "tool_calls"}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
        choices.append({"index": choice.get("index", 0), "delta": delta,
                        "finish_reason": choice.get("finish_reason"), "logprobs": choice.get("logprobs")})
    chunk: dict[str, Any] = {"id": completion.get("id", ""), "object": "chat.completion.chunk",
                             "created": completion.get("created", 0), "model": completion.get("model", ""),
                             "choices": choices, "usage": completion.get("usage")}
    if completion.get("system_fingerprint"):
        chunk["system_fingerprint"] = completion["system_fingerprint"]
    return chunk  # type: ignore[return-value]
