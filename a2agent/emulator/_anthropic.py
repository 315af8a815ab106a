"""Anthropic Messages side of the emulator: request checks, translation to the canonical request the
deterministic model reads, and response/SSE rendering in the Anthropic shape."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

from ._model import Reply
from ._openai import RequestError

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                529: "overloaded_error"}
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def error_body(err: RequestError) -> dict[str, Any]:
    kind = "billing_error" if err.type == "insufficient_quota" else _ERROR_TYPES.get(err.status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": err.message}}


def _bad(message: str) -> RequestError:
    return RequestError(400, message)


def _block_to_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind in ("image", "document"):
        source = block.get("source") or {}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        elif source.get("type") == "url":
            url = source.get("url", "")
        else:
            raise _bad(f"{where}.source.type must be base64 or url.")
        if kind == "image":
            return {"type": "image_url", "image_url": {"url": url}}
        return {"type": "file", "file": {"file_data": url, "filename": block.get("title") or "document"}}
    raise _bad(f"{where}.type {kind!r} is not valid here.")


def to_canonical(body: Any) -> dict[str, Any]:
    """Check an Anthropic request as the gateway does and translate it to the canonical shape."""
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object.")
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            raise _bad(f"{field}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise _bad("max_tokens: must be a positive integer")
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    _check_texts(system, "system")
    if system:
        text = system if isinstance(system, str) else "".join(b.get("text", "") for b in system)
        messages.append({"role": "system", "content": text})
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise _bad("messages: at least one message is required")
    for i, message in enumerate(body["messages"]):
        _check_texts(message.get("content") if isinstance(message, dict) else None, f"messages.{i}.content")
    _check_turns(body["messages"])
    turn_start = _current_turn(body["messages"])
    for i, message in enumerate(body["messages"]):
        messages += _message(i, message, check_signatures=i > turn_start)
    canonical: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]}
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("stop_sequences", "stop"),
                     ("stream", "stream")):
        if src in body:
            canonical[dst] = body[src]
    _tools(body, canonical)
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") == "enabled" and not isinstance(thinking.get("budget_tokens"), int):
            raise _bad("thinking.budget_tokens: Field required")
        canonical["thinking"] = {"type": thinking.get("type")}
    return canonical


def _check_texts(content: Any, where: str) -> None:
    """As the Messages API does: every text block's ``text`` (tool results' too) is a string."""
    if not isinstance(content, list):
        return
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and not isinstance(block.get("text"), str):
            raise _bad(f"{where}.{j}.text: Input should be a valid string")
        if block.get("type") == "tool_result":
            _check_texts(block.get("content"), f"{where}.{j}.content")


def _blocks(message: Any, kind: str) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind] if isinstance(content, list) else []


def _check_turns(messages: list[Any]) -> None:
    """As the Messages API does: user first, roles alternating, each assistant turn's tool_use ids
    answered by tool_result blocks in the very next user turn (results first in its content), and
    no tool_result for an id the previous assistant turn did not ask for."""
    previous = None
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise _bad("messages.0.role: the first message must use the 'user' role")
        if role == previous:
            raise _bad(f"messages.{i}.role: roles must alternate between 'user' and 'assistant', but found "
                       f"multiple '{role}' roles in a row")
        previous = role
        asked = {str(b.get("id")) for b in _blocks(messages[i - 1], "tool_use")} if i else set()
        results = _blocks(message, "tool_result")
        for j, block in enumerate(message.get("content") if isinstance(message.get("content"), list) else []):
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            if j >= len(results):
                raise _bad(f"messages.{i}.content.{j}: tool_result blocks must come first in the content, "
                           "before any other block")
            if str(block.get("tool_use_id")) not in asked:
                raise _bad(f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                           f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                           "`tool_use` block in the previous message.")
        unanswered = sorted(asked - {str(b.get("tool_use_id")) for b in results})
        if unanswered:
            raise _bad(f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                       f"after: {', '.join(unanswered)}. Each `tool_use` block must have a corresponding "
                       "`tool_result` block in the next message.")
    last = messages[-1]
    if _blocks(last, "tool_use"):
        ids = ", ".join(sorted(str(b.get("id")) for b in _blocks(last, "tool_use")))
        raise _bad(f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks "
                   f"immediately after: {ids}. Each `tool_use` block must have a corresponding `tool_result` "
                   "block in the next message.")


def _current_turn(messages: list[Any]) -> int:
    """Index of the last user message that is not just tool results: the current turn starts there."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str) or any(b.get("type") != "tool_result" for b in content or []):
                return i
    return -1


def _message(i: int, message: Any, check_signatures: bool) -> list[dict[str, Any]]:
    where = f"messages.{i}"
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise _bad(f"{where}.role: Input should be 'user' or 'assistant'")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": message["role"], "content": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content: Input should be a string or a list of blocks")
    if message["role"] == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": None}
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        if texts:
            out["content"] = "".join(texts)
        thinking = [b for b in content if b.get("type") == "thinking"]
        for block in thinking if check_signatures else ():
            # As Anthropic does: within the current tool-use turn, thinking must come back signed.
            if block.get("signature") != _signature(block.get("thinking", "")):
                raise _bad(f"{where}: invalid signature in thinking block")
        if thinking:
            out["reasoning_content"] = "".join(b.get("thinking", "") for b in thinking)
        calls = [{"id": b.get("id"), "type": "function",
                  "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})}}
                 for b in content if b.get("type") == "tool_use"]
        if calls:
            out["tool_calls"] = calls
        if out["content"] is None and not calls:
            out["content"] = ""
        return [out]
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        if block.get("type") == "tool_result":
            value = block.get("content")
            text = value if isinstance(value, str) else "".join(
                b.get("text", "") for b in value or [] if b.get("type") == "text")
            results.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        else:
            parts.append(_block_to_part(block, f"{where}.content.{j}"))
    if parts:
        results.append({"role": "user", "content": parts})
    return results


def _tools(body: dict[str, Any], canonical: dict[str, Any]) -> None:
    tools = body.get("tools")
    if not tools:
        return
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not tool.get("name") or not isinstance(tool.get("input_schema"), dict):
            raise _bad(f"tools.{i}: name and input_schema are required")
    canonical["tools"] = [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                                            "parameters": t["input_schema"]}} for t in tools]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        simple = {"auto": "auto", "any": "required", "none": "none"}
        canonical["tool_choice"] = simple[kind] if kind in simple else {
            "type": "function", "function": {"name": choice.get("name")}}
        if choice.get("disable_parallel_tool_use"):
            canonical["parallel_tool_calls"] = False


# -- rendering ------------------------------------------------------------------------------------

def _signature(text: str) -> str:
    return "sig_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    return {"input_tokens": usage["prompt_tokens"] - cached, "output_tokens": usage["completion_tokens"],
            "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}


def _content(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        blocks.append({"type": "thinking", "thinking": reply.reasoning, "signature": _signature(reply.reasoning)})
    if reply.content:
        blocks.append({"type": "text", "text": reply.content})
    blocks += [{"type": "tool_use", "id": c.id.replace("call_", "toolu_"), "name": c.name,
                "input": json.loads(c.arguments)} for c in reply.tool_calls]
    return blocks


def render_message(model: str, reply: Reply, usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
            "content": _content(reply), "stop_reason": _STOP.get(reply.finish_reason, reply.finish_reason),
            "stop_sequence": None, "usage": _usage(usage)}


def render_events(model: str, reply: Reply, usage: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of a streamed answer, ``message_stop`` last."""
    start = render_message(model, reply, usage)
    start.update(content=[], stop_reason=None, usage={**start["usage"], "output_tokens": 1})
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    index = 0
    if reply.reasoning is not None:
        yield from _block(index, {"type": "thinking", "thinking": "", "signature": ""},
                          [{"type": "thinking_delta", "thinking": p} for p in reply.reasoning_pieces()]
                          + [{"type": "signature_delta", "signature": _signature(reply.reasoning)}])
        index += 1
    if reply.content:
        yield from _block(index, {"type": "text", "text": ""},
                          [{"type": "text_delta", "text": p} for p in reply.content_pieces()])
        index += 1
    for call in reply.tool_calls:
        fragments = [call.arguments[i:i + 8] for i in range(0, len(call.arguments), 8)]
        yield from _block(index, {"type": "tool_use", "id": call.id.replace("call_", "toolu_"), "name": call.name,
                                  "input": {}},
                          [{"type": "input_json_delta", "partial_json": f} for f in fragments])
        index += 1
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": _STOP.get(reply.finish_reason,
                                                                                           reply.finish_reason),
                                                               "stop_sequence": None},
                            "usage": {"output_tokens": usage["completion_tokens"]}}
    yield "message_stop", {"type": "message_stop"}


def _block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def encode_event(item: Any) -> bytes:
    if isinstance(item, tuple):
        name, data = item
    else:  # an injected error object
        name, data = "error", {"type": "error", "error": {"type": "api_error", **item.get("error", {})}}
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
