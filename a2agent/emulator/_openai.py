"""OpenAI chat-completions side of the emulator: request validation and response/SSE rendering."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from .._catalog import MODEL_PROFILES, ModelProfile
from .._tokens import token_counter
from ._model import Reply, thinking_enabled
from ._strict import StrictSchemaError, check_strict_schema

FINGERPRINT = "fp_a2agent_emulator"
_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_PART_TYPES = {"text", "image_url", "input_audio", "file"}


class RequestError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _bad(message: str, param: str | None = None, code: str = "invalid_value") -> RequestError:
    return RequestError(400, message, param=param, code=code)


def validate_request(body: Any) -> tuple[dict[str, Any], ModelProfile]:
    """Check a chat-completions request the way the gateway does; return it with the model profile."""
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required.", "model", "missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array.", "messages", "missing_required_parameter")
    profile = MODEL_PROFILES.get(model)
    if profile is None:
        raise RequestError(404, f"The model '{model}' does not exist or you do not have access to it.",
                           type="invalid_request_error", code="model_not_found", param="model")
    for i, msg in enumerate(messages):
        _validate_message(i, msg, profile)
    _validate_tool_turns(messages)
    _validate_params(body, profile)
    _validate_tools(body)
    _validate_forced_choice_while_thinking(body, profile)
    _validate_reasoning_history(body, profile)
    return body, profile


def _validate_message(i: int, msg: Any, profile: ModelProfile) -> None:
    where = f"messages[{i}]"
    if not isinstance(msg, dict) or msg.get("role") not in _ROLES:
        raise _bad(f"{where}.role must be one of {sorted(_ROLES)}.", f"{where}.role")
    role, content = msg["role"], msg.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
                raise _bad(f"{where}.content[{j}].type must be one of {sorted(_PART_TYPES)}.",
                           f"{where}.content[{j}].type")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise _bad(f"{where}.content[{j}].text must be a string.", f"{where}.content[{j}].text")
            if part["type"] != "text" and role != "user":
                raise _bad(f"{where}.content[{j}]: only user messages may carry {part['type']} parts.")
            if part["type"] == "image_url" and not profile.vision:
                raise _bad(f"Model '{profile.id}' does not support image input.", f"{where}.content[{j}]")
    elif content is not None and not isinstance(content, str):
        raise _bad(f"{where}.content must be a string, an array of parts, or null.", f"{where}.content")
    if role == "assistant":
        for call in msg.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not call.get("id") or not isinstance(fn.get("arguments"), str):
                raise _bad(f"{where}.tool_calls entries need id and function{{name, arguments: string}}.",
                           f"{where}.tool_calls")
        if content is None and not msg.get("tool_calls"):
            raise _bad(f"{where}: assistant message needs content or tool_calls.", f"{where}.content")
    elif role != "tool" and content is None:
        raise _bad(f"{where}.content is required for role '{role}'.", f"{where}.content")


def _validate_tool_turns(messages: list[dict[str, Any]]) -> None:
    """As OpenAI does: tool messages answer the tool calls of the assistant turn right before them,
    and every one of those calls is answered before any other message (or the end)."""
    asked: set[str] = set()   # ids of the latest assistant turn's tool calls
    pending: list[str] = []   # of those, the ones no tool message answered yet
    turn = -1                 # index of that assistant turn
    for i, msg in enumerate(messages):
        if msg["role"] == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in asked:
                raise _bad(f"messages[{i}].tool_call_id {call_id!r}: messages with role 'tool' must be a response "
                           "to a tool call of the preceding assistant message with 'tool_calls'.",
                           f"messages[{i}].tool_call_id", "invalid_tool_call_id")
            pending = [p for p in pending if p != call_id]
            continue
        _no_pending(pending, turn)
        asked = {c["id"] for c in msg.get("tool_calls") or []} if msg["role"] == "assistant" else set()
        pending, turn = sorted(asked), i
    _no_pending(pending, turn)


def _no_pending(pending: list[str], turn: int) -> None:
    if pending:
        raise _bad(f"messages[{turn}].tool_calls: an assistant message with 'tool_calls' must be followed by tool "
                   "messages responding to each 'tool_call_id'. The following tool_call_ids did not have "
                   f"response messages: {', '.join(pending)}", f"messages[{turn}].tool_calls", "missing_tool_response")


def _validate_params(body: dict[str, Any], profile: ModelProfile) -> None:
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
        raise _bad("'temperature' must be a number between 0 and 2.", "temperature")
    top_p = body.get("top_p")
    if top_p is not None and not (isinstance(top_p, int | float) and 0 <= top_p <= 1):
        raise _bad("'top_p' must be a number between 0 and 1.", "top_p")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and not (isinstance(value, int) and 1 <= value <= profile.max_output_tokens):
            raise _bad(f"Invalid '{name}' value {value!r}: the valid range of {name} for '{profile.id}' is "
                       f"[1, {profile.max_output_tokens}].", name)
    n = body.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 8:
        raise _bad("'n' must be an integer between 1 and 8.", "n")
    if n > 1 and body.get("stream"):
        raise _bad("'n' greater than 1 is not supported with 'stream': true.", "n", "unsupported_value")
    fmt = body.get("response_format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            raise _bad("'response_format.type' must be text, json_object or json_schema.", "response_format")
        spec = fmt.get("json_schema") or {}
        if kind == "json_schema" and not isinstance(spec.get("schema"), dict):
            raise _bad("'response_format.json_schema.schema' is required.", "response_format.json_schema")
        if kind == "json_schema" and spec.get("strict") is True:
            _strict(spec["schema"], f"response_format '{spec.get('name')}'",
                    "response_format.json_schema.schema", "invalid_json_schema")


def _strict(schema: Any, what: str, param: str, code: str) -> None:
    try:
        check_strict_schema(schema)
    except StrictSchemaError as exc:
        raise _bad(f"Invalid schema for {what} ({param}, strict mode): {exc}", param, code) from None


def _validate_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    names = set()
    for i, tool in enumerate(tools or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict) \
                or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _bad(f"tools[{i}] must be {{type: 'function', function: {{name, ...}}}}.", f"tools[{i}]")
        names.add(fn["name"])
        if fn.get("strict") is True:
            _strict(fn.get("parameters"), f"function '{fn['name']}'", f"tools[{i}].function.parameters",
                    "invalid_function_parameters")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise _bad("'tool_choice' must be none, auto, required or a function.", "tool_choice")
        if choice == "required" and not tools:
            raise _bad("tool_choice 'required' needs tools.", "tool_choice")
        return
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if name not in names:
        raise _bad(f"tool_choice names function {name!r}, which is not in tools.", "tool_choice")


def _validate_forced_choice_while_thinking(body: dict[str, Any], profile: ModelProfile) -> None:
    # Kimi refuses a forced tool call in thinking mode (on by default for kimi-k2.5).
    choice = body.get("tool_choice")
    forced = choice == "required" or isinstance(choice, dict)
    if forced and not profile.forced_tool_choice_thinking and thinking_enabled(body, profile):
        kind = "required" if choice == "required" else "function"
        raise _bad(f"tool_choice '{kind}' is incompatible with thinking enabled", "tool_choice")


def _validate_reasoning_history(body: dict[str, Any], profile: ModelProfile) -> None:
    # DeepSeek/GLM thinking mode: assistant tool-call turns after the last user message must carry
    # their reasoning_content back, or the provider answers 400.
    if not thinking_enabled(body, profile):
        return
    messages = body["messages"]
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    for i in range(last_user + 1, len(messages)):
        msg = messages[i]
        if msg.get("role") == "assistant" and msg.get("tool_calls") and not msg.get("reasoning_content"):
            raise _bad(f"messages[{i}]: in thinking mode an assistant message with tool_calls must "
                       "include its reasoning_content.", f"messages[{i}].reasoning_content")


# -- rendering ------------------------------------------------------------------------------------

def usage_for(body: dict[str, Any], profile: ModelProfile, replies: list[Reply], cached: int) -> dict[str, Any]:
    """Usage as the backend bills it, counted by the core's ``token_counter`` (the family's own
    vocabulary with the ``[tokenizers]`` extra): what an adapter predicts offline is what is reported."""
    counter = token_counter(body["model"])
    prompt = counter.count_request(body)
    reasoning = sum(counter.count_text(r.reasoning or "") for r in replies)
    completion = sum(counter.count_completion({"content": r.content, "reasoning_content": r.reasoning,
                                               "tool_calls": _tool_calls_json(r)}) for r in replies)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    if profile.owned_by == "deepseek":
        usage["prompt_cache_hit_tokens"] = cached
        usage["prompt_cache_miss_tokens"] = prompt - cached
    return usage


def _logprobs(pieces: list[str], top: int) -> dict[str, Any]:
    def entry(token: str, i: int) -> dict[str, Any]:
        return {"token": token, "logprob": -round(0.01 * (i % 7 + 1), 4), "bytes": list(token.encode())}

    return {"content": [{**entry(p, i), "top_logprobs": [entry(p, i + k) for k in range(top)]}
                        for i, p in enumerate(pieces)], "refusal": None}


def _tool_calls_json(reply: Reply) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls]


def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def render_completion(body: dict[str, Any], replies: list[Reply], usage: dict[str, Any]) -> dict[str, Any]:
    choices = []
    for i, reply in enumerate(replies):
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning is not None:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = _tool_calls_json(reply)
        logprobs = _logprobs(reply.content_pieces(), body.get("top_logprobs") or 0) if body.get("logprobs") else None
        choices.append({"index": i, "message": message, "finish_reason": reply.finish_reason, "logprobs": logprobs})
    return {"id": new_id(), "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "system_fingerprint": FINGERPRINT, "choices": choices, "usage": usage}


def render_chunks(body: dict[str, Any], replies: list[Reply], usage: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The chunk dicts of a streamed answer, in wire order (without ``[DONE]``)."""
    base = {"id": new_id(), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": FINGERPRINT}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    want_logprobs, top = bool(body.get("logprobs")), body.get("top_logprobs") or 0

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
        out = {**base, "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": logprobs}]}
        if include_usage:
            out["usage"] = None
        return out

    for i, reply in enumerate(replies):
        # As OpenAI does: "" opens a text answer, null opens a tool-call-only answer.
        yield chunk(i, {"role": "assistant", "content": "" if reply.content is not None else None})
        for piece in reply.reasoning_pieces():
            yield chunk(i, {"reasoning_content": piece})
        for piece in reply.content_pieces():
            yield chunk(i, {"content": piece}, logprobs=_logprobs([piece], top) if want_logprobs else None)
        for k, call in enumerate(reply.tool_calls):
            yield chunk(i, {"tool_calls": [{"index": k, "id": call.id, "type": "function",
                                            "function": {"name": call.name, "arguments": ""}}]})
            for fragment in _fragments(call.arguments):
                yield chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": fragment}}]})
        yield chunk(i, {}, reply.finish_reason)
    if include_usage:
        yield {**base, "choices": [], "usage": usage}


def _fragments(arguments: str, size: int = 8) -> list[str]:
    return [arguments[i:i + size] for i in range(0, len(arguments), size)] or [""]
