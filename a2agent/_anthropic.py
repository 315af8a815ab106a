"""Anthropic Messages codec: canonical (OpenAI-shape) requests to ``POST /v1/messages`` and back.

Requests: system/developer messages become ``system``; runs of tool results become one user turn
of ``tool_result`` blocks; images (data or http URLs) and PDFs become ``image``/``document`` blocks;
tool calls become ``tool_use``; reasoning goes back as a ``thinking`` block with its signature;
``tool_choice``/``parallel_tool_calls``/``stop``/``thinking`` are translated, ``max_tokens`` is
filled from the model catalogue when absent (the format requires it).

Responses and stream events come back as canonical completions and chunks, so everything above the
transport (accumulator, adapters) is format-blind. Stream events are dispatched on their JSON
``type``; ``message_stop`` ends the stream (there is no ``[DONE]``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._canonical import TOOL_ERROR_KEY
from ._catalog import get_model_profile
from ._codec import DONE, loads_event
from ._errors import APIResponseError, InvalidInputError, StreamError, error_message, scrub_exception
from ._sse import ServerSentEvent
from .types import ChatCompletion, ToolCall, Usage

__all__ = ["AnthropicCodec", "anthropic_usage", "as_carried"]

ANTHROPIC_VERSION = "2023-06-01"
_DEFAULT_MAX_TOKENS = 8192
_EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
           "refusal": "content_filter", "pause_turn": "stop"}
# Canonical parameters the Messages format has no place for: refuse them rather than drop them.
_UNSUPPORTED = {"n": "several choices", "logprobs": "log probabilities", "top_logprobs": "log probabilities",
                "response_format": "response_format (use tool calling for structured output)"}
_HANDLED = {"model", "messages", "max_tokens", "max_completion_tokens", "stop", "tools", "tool_choice",
            "parallel_tool_calls", "thinking", "reasoning_effort", "stream", "stream_options", "temperature",
            "top_p", "seed"}


def _data_url(url: str) -> tuple[str, str] | None:
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[5:].split(";base64,", 1)
    return head, data


def _part_to_block(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": part.get("text", "")}
    if kind == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        inline = _data_url(url)
        source = ({"type": "base64", "media_type": inline[0], "data": inline[1]} if inline
                  else {"type": "url", "url": url})
        return {"type": "image", "source": source}
    if kind == "file":
        file = part.get("file") or {}
        inline = _data_url(file.get("file_data", ""))
        if inline is None:
            raise InvalidInputError(f"{where}: the Anthropic format takes files as base64 data URLs")
        block: dict[str, Any] = {"type": "document", "source": {"type": "base64", "media_type": inline[0],
                                                               "data": inline[1]}}
        if file.get("filename"):
            block["title"] = file["filename"]
        return block
    raise InvalidInputError(f"{where}: content part {kind!r} is not supported by the Anthropic format")


def _content_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [_part_to_block(p, f"{where}.content[{j}]") for j, p in enumerate(content)]


def _assistant_blocks(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        blocks.append({"type": "thinking", "thinking": message["reasoning_content"],
                       "signature": message.get("reasoning_signature") or ""})
    blocks += _content_blocks(message.get("content"), where)
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        try:
            args = json.loads(function.get("arguments") or "{}")
        except ValueError:
            args = {}  # an invalid earlier call still needs a slot for its tool_result
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": args})
    return blocks


def _messages(messages: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where, role = f"messages[{i}]", message.get("role")
        if role in ("system", "developer"):
            blocks = _content_blocks(message.get("content"), where)
            if any(b["type"] != "text" for b in blocks):
                raise InvalidInputError(f"{where}: a {role} message carries text only in the Anthropic format")
            system.append("".join(b["text"] for b in blocks))
            continue
        if role == "assistant":
            turn_role, blocks = "assistant", _assistant_blocks(message, where)
        elif role == "tool":
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                                      "content": _content_blocks(message.get("content"), where)}
            if message.get(TOOL_ERROR_KEY):  # the framework's own failure flag, never a guess from text
                result["is_error"] = True
            turn_role, blocks = "user", [result]
        elif role == "user":
            turn_role, blocks = "user", _content_blocks(message.get("content"), where)
        else:
            raise InvalidInputError(f"{where}: role {role!r} is not supported by the Anthropic format")
        if out and out[-1]["role"] == turn_role:  # the format wants alternating turns: merge
            out[-1]["content"] += blocks
        else:
            out.append({"role": turn_role, "content": blocks})
    return out, system


def _tool(tool: Mapping[str, Any], i: int) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidInputError(f"tools[{i}] must be {{type: function, function: {{name, ...}}}}")
    return {"name": function["name"], "description": function.get("description", ""),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}


def as_carried(messages: list[Mapping[str, Any]], tools: list[Mapping[str, Any]] | None = None
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical messages and tools as the Messages format carries them, for counting what is sent:
    this codec's own conversion (the system messages joined into one system prompt, consecutive
    same-role turns merged into one, ``name`` dropped, tool results as text), read back in the
    canonical shape the way a gateway translating the format back does (the emulator's
    ``to_canonical``)."""
    turns, system = _messages(list(messages))
    out: list[dict[str, Any]] = []
    if "\n\n".join(system):  # an empty system prompt is no system prompt
        out.append({"role": "system", "content": "\n\n".join(system)})
    for turn in turns:
        blocks = turn["content"]
        if turn["role"] == "assistant":
            message: dict[str, Any] = {"role": "assistant",
                                       "content": "".join(b["text"] for b in blocks if b["type"] == "text")}
            thinking = [b["thinking"] for b in blocks if b["type"] == "thinking"]
            if thinking:
                message["reasoning_content"] = "".join(thinking)
            calls = [{"id": b["id"], "type": "function",
                      "function": {"name": b["name"], "arguments": json.dumps(b["input"] or {})}}
                     for b in blocks if b["type"] == "tool_use"]
            if calls:
                message["tool_calls"] = calls
            out.append(message)
            continue
        parts: list[dict[str, Any]] = []
        for block in blocks:
            if block["type"] == "tool_result":
                out.append({"role": "tool", "tool_call_id": block["tool_use_id"],
                            "content": "".join(b["text"] for b in block["content"] if b["type"] == "text")})
            elif block["type"] == "text":
                parts.append({"type": "text", "text": block["text"]})
            else:  # image or document
                source = block["source"]
                url = (source["url"] if source["type"] == "url"
                       else f"data:{source['media_type']};base64,{source['data']}")
                parts.append({"type": "image_url", "image_url": {"url": url}} if block["type"] == "image"
                             else {"type": "file", "file": {"file_data": url}})
        if parts:
            out.append({"role": "user", "content": parts})
    carried = [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                 "parameters": t["input_schema"]}}
               for t in (_tool(t, i) for i, t in enumerate(tools or ()))]
    return out, carried


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None and parallel is None:
        return None
    if isinstance(choice, Mapping):
        result: dict[str, Any] = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        result = {"type": {"required": "any", "none": "none", None: "auto"}.get(choice, choice)}
        if result["type"] not in ("auto", "any", "none"):
            raise InvalidInputError(f"tool_choice {choice!r} has no Anthropic equivalent")
    if parallel is False and result["type"] != "none":
        result["disable_parallel_tool_use"] = True
    return result


def _thinking(payload: Mapping[str, Any], max_tokens: int) -> dict[str, Any] | None:
    thinking = payload.get("thinking")
    effort = payload.get("reasoning_effort")
    mode = thinking.get("type") if isinstance(thinking, Mapping) else None
    if mode == "disabled":
        return {"type": "disabled"}
    if mode == "enabled" or effort:
        budget = (thinking or {}).get("budget_tokens") or _EFFORT_BUDGETS.get(effort or "medium", 8192)
        return {"type": "enabled", "budget_tokens": min(budget, max(1024, max_tokens - 1))}
    return None


class AnthropicCodec:
    name = "anthropic"
    chat_path = "/messages"
    headers: Mapping[str, str] = {"anthropic-version": ANTHROPIC_VERSION}

    def encode_request(self, payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
        for key, what in _UNSUPPORTED.items():
            value = payload.get(key)
            if value and not (key == "n" and value == 1) and not (
                    key == "response_format" and value.get("type") == "text"):
                raise InvalidInputError(f"The Anthropic format does not support {what} (payload[{key!r}])")
        messages, system = _messages(list(payload["messages"]))
        max_tokens = payload.get("max_tokens") or payload.get("max_completion_tokens") or min(
            get_model_profile(payload["model"]).max_output_tokens, _DEFAULT_MAX_TOKENS)
        body: dict[str, Any] = {"model": payload["model"], "max_tokens": max_tokens, "messages": messages}
        if system:
            body["system"] = "\n\n".join(system)
        for key in ("temperature", "top_p"):
            if payload.get(key) is not None:
                body[key] = payload[key]
        stop = payload.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if payload.get("tools"):
            body["tools"] = [_tool(t, i) for i, t in enumerate(payload["tools"])]
            choice = _tool_choice(payload.get("tool_choice"), payload.get("parallel_tool_calls"))
            if choice:
                body["tool_choice"] = choice
        thinking = _thinking(payload, max_tokens)
        if thinking:
            body["thinking"] = thinking
        body.update({k: v for k, v in payload.items() if k not in _HANDLED and k not in _UNSUPPORTED})
        if stream:
            body["stream"] = True
        return body

    def decode_response(self, body: Any) -> ChatCompletion:
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise APIResponseError(f"Unexpected Anthropic messages response: {str(body)[:200]!r}", body=body)
        text, thinking, signature, calls = [], [], "", []
        for block in body["content"]:
            kind = block.get("type")
            if kind == "text":
                text.append(block.get("text", ""))
            elif kind == "thinking":
                thinking.append(block.get("thinking", ""))
                signature = block.get("signature") or signature
            elif kind == "tool_use":
                calls.append(_tool_call(block))
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
        if thinking:
            message["reasoning_content"] = "".join(thinking)
            if signature:
                message["reasoning_signature"] = signature
        if calls:
            message["tool_calls"] = calls
        return {"id": body.get("id", ""), "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", ""), "usage": anthropic_usage(body.get("usage")),
                "choices": [{"index": 0, "message": message,  # type: ignore[typeddict-item]
                             "finish_reason": _finish(body.get("stop_reason")), "logprobs": None}]}

    def event_decoder(self) -> Callable[[ServerSentEvent], Any]:
        return _EventDecoder()

    @staticmethod
    def is_end(sse: ServerSentEvent) -> bool:
        return sse.event == "message_stop" or '"message_stop"' in sse.data[:64]


def _tool_call(block: Mapping[str, Any]) -> ToolCall:
    return {"id": block.get("id", ""), "type": "function",
            "function": {"name": block.get("name", ""), "arguments": json.dumps(block.get("input") or {})}}


def _finish(reason: str | None) -> str | None:
    return _FINISH.get(reason, reason) if reason else None


def anthropic_usage(usage: Mapping[str, Any] | None) -> Usage | None:
    if not usage:
        return None
    cached = int(usage.get("cache_read_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cached + int(usage.get("cache_creation_input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


class _EventDecoder:
    """Stateful per stream: Anthropic events -> canonical chunks (one at most per event)."""

    __slots__ = ("blocks", "created", "id", "model", "tools", "usage")

    def __init__(self) -> None:
        self.created = int(time.time())
        self.id = ""
        self.model = ""
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, int] = {}  # content block index -> tool call index
        self.tools = 0

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "model": self.model, "created": self.created,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def __call__(self, sse: ServerSentEvent) -> Any:
        try:
            event = loads_event(sse.data)
        except ValueError as exc:
            raise StreamError(f"Malformed JSON in Anthropic stream: {sse.data[:200]!r}") from scrub_exception(exc)
        kind = event.get("type") if isinstance(event, dict) else None
        handler = _HANDLERS.get(kind if isinstance(kind, str) else "")
        if handler is None:
            if sse.event == "error":
                raise StreamError(f"Error in stream: {error_message(event, 'unknown error')}", body=event)
            return None  # ping and event types added later are ignorable by contract
        try:
            return handler(self, event)
        except (AttributeError, TypeError, KeyError) as exc:  # a field of the wrong type inside the event
            raise StreamError(f"Malformed Anthropic {kind} event: {sse.data[:200]!r}",
                              body=event) from scrub_exception(exc)

    def message_start(self, event: dict[str, Any]) -> Any:
        message = event.get("message") or {}
        self.id, self.model = message.get("id", ""), message.get("model", "")
        self.usage = dict(message.get("usage") or {})
        return self._chunk({"role": "assistant", "content": ""})

    def block_start(self, event: dict[str, Any]) -> Any:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            index = self.blocks[event.get("index", 0)] = self.tools
            self.tools += 1
            return self._chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                                "function": {"name": block.get("name"), "arguments": ""}}]})
        if block.get("type") == "text" and block.get("text"):
            return self._chunk({"content": block["text"]})
        return None

    def block_delta(self, event: dict[str, Any]) -> Any:
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return self._chunk({"content": delta.get("text", "")})
        if kind == "thinking_delta":
            return self._chunk({"reasoning_content": delta.get("thinking", "")})
        if kind == "input_json_delta":
            index = self.blocks.get(event.get("index", 0), 0)
            return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": delta.get("partial_json")}}]})
        if kind == "signature_delta":
            return self._chunk({"reasoning_signature": delta.get("signature", "")})
        return None

    def message_delta(self, event: dict[str, Any]) -> Any:
        self.usage.update(event.get("usage") or {})
        chunk = self._chunk({}, _finish((event.get("delta") or {}).get("stop_reason")))
        chunk["usage"] = anthropic_usage(self.usage)
        return chunk

    def message_stop(self, event: dict[str, Any]) -> Any:
        return DONE

    def error(self, event: dict[str, Any]) -> Any:
        raise StreamError(f"Error in stream: {error_message(event, 'unknown error')}", body=event)


_HANDLERS: dict[str, Callable[[_EventDecoder, dict[str, Any]], Any]] = {
    "message_start": _EventDecoder.message_start,
    "content_block_start": _EventDecoder.block_start,
    "content_block_delta": _EventDecoder.block_delta,
    "message_delta": _EventDecoder.message_delta,
    "message_stop": _EventDecoder.message_stop,
    "error": _EventDecoder.error,
}
