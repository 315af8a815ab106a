"""Pure helpers over canonical (OpenAI-shape) requests and responses, shared by both adapters."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ._catalog import get_model_profile
from ._errors import InvalidInputError
from ._validate import check_content

__all__ = [
    "TOOL_ERROR_KEY",
    "forced_tool_choice_allowed",
    "json_schema_response_format",
    "normalize_tool_choice",
    "reasoning_for_request",
    "relax_forced_tool_choice",
    "split_tool_attachments",
    "strip_internal_keys",
    "to_strict_json_schema",
    "token_details",
]

# Internal keys of canonical messages: the codecs map or strip them, the OpenAI wire never sees them.
TOOL_ERROR_KEY = "is_error"  # on a tool message: the framework says the tool failed
_INTERNAL_KEYS = ("reasoning_signature", TOOL_ERROR_KEY)
_REASONING_KEYS = ("reasoning_content", "reasoning_signature")

_TOOL_CHOICES = ("auto", "none", "required")
_ALL_CHOICES = [*_TOOL_CHOICES, "any"]


def normalize_tool_choice(choice: str | Mapping[str, Any], names: list[str]) -> str | dict[str, Any]:
    """A framework's tool choice as the wire wants it: "auto" | "none" | "required" (also "any"), a
    bound tool's name (-> a function choice), or a wire dict passed through. Unknown names raise."""
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice == "any":
        return "required"
    if choice in _TOOL_CHOICES:
        return choice
    if isinstance(choice, str) and choice in names:
        return {"type": "function", "function": {"name": choice}}
    raise InvalidInputError(f"tool_choice {choice!r} is not one of the bound tools {names} "
                            f"nor one of {_ALL_CHOICES}")


_RELAXED_MODELS: set[str] = set()
log = logging.getLogger("a2agent")


def relax_forced_tool_choice(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with a forced ``tool_choice`` (required, a named tool) relaxed to "auto" when it
    puts a backend that refuses forcing in thinking mode into that mode (Kimi answers 400 "tool_choice
    'required' is incompatible with thinking enabled"; thinking is on by default on kimi-k2.5).

    Structured output through tools keeps working: the schema is the only tool offered, and the
    model calls it. Other integrations fall back to "auto" the same way. Never mutates."""
    choice = payload.get("tool_choice")
    if choice is None or choice in ("auto", "none") or forced_tool_choice_allowed(payload):
        return payload
    model = payload["model"]
    if model not in _RELAXED_MODELS:  # said once per model: the caller asked for more than is sent
        _RELAXED_MODELS.add(model)
        log.warning("a2agent: %s refuses a forced tool_choice in thinking mode; sending tool_choice='auto' "
                    "instead (pass thinking=False to force a tool call)", model)
    return {**payload, "tool_choice": "auto"}


def forced_tool_choice_allowed(params: Mapping[str, Any]) -> bool:
    """Whether a request with these parameters (``model``, ``thinking``, ``reasoning_effort``) may
    force a tool call: not in thinking mode on a backend that refuses it."""
    profile = get_model_profile(params["model"])
    return profile.forced_tool_choice_thinking or not _thinking_on(params, profile.reasoning)


def _thinking_on(payload: Mapping[str, Any], reasoning: str) -> bool:
    thinking = payload.get("thinking")
    mode = thinking.get("type") if isinstance(thinking, Mapping) else None
    if mode == "disabled" or reasoning == "none":
        return False
    return reasoning == "always" or mode == "enabled" or bool(payload.get("reasoning_effort"))


def split_tool_attachments(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make tool messages wire-legal: a ``tool`` message carries text only.

    Frameworks let a tool return images or files; those parts are moved, after the whole run of
    consecutive tool messages (the API wants tool results right after the assistant turn), into
    one ``user`` message that says which call returned them. Inputs are not mutated.
    """
    out: list[dict[str, Any]] = []
    deferred: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.get("role") != "tool" and deferred:
            out.append({"role": "user", "content": deferred})
            deferred = []
        content = message.get("content")
        if message.get("role") == "tool" and isinstance(content, list):
            check_content(content, f"messages[{i}]")  # text parts with str text, before joining them
            text = "".join(p.get("text", "") for p in content if p.get("type") == "text")
            extra = [p for p in content if p.get("type") != "text"]
            out.append({**message, "content": text})
            if extra:
                note = f"Attachments returned by tool call {message.get('tool_call_id')}:"
                deferred += [{"type": "text", "text": note}, *extra]
        else:
            out.append(message)
    if deferred:
        out.append({"role": "user", "content": deferred})
    return out


def token_details(usage: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(cached prompt tokens, reasoning tokens) of a canonical usage dict, None where not reported.

    Cached tokens come as OpenAI's ``prompt_tokens_details.cached_tokens`` or, from DeepSeek, as
    ``prompt_cache_hit_tokens``; either may be absent or null.
    """
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is None:
        cached = usage.get("prompt_cache_hit_tokens")
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    return (None if cached is None else int(cached), None if reasoning is None else int(reasoning))


def strip_internal_keys(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Canonical messages as the OpenAI wire takes them: without the keys only other codecs read."""
    return [{k: v for k, v in m.items() if k not in _INTERNAL_KEYS}
            if any(k in m for k in _INTERNAL_KEYS) else dict(m) for m in messages]


def reasoning_for_request(messages: Iterable[Mapping[str, Any]], model: str) -> list[dict[str, Any]]:
    """Keep reasoning (``reasoning_content`` and its Anthropic signature) only where backends want it.

    DeepSeek/GLM/Kimi thinking mode needs the reasoning of the assistant turns of the current tool
    loop (after the last user message) back, or answers 400; Anthropic likewise verifies the signed
    thinking block of the current tool-use turn and ignores older ones. Earlier turns' reasoning is
    dropped: it costs input tokens and some backends reject it. Models whose profile says
    ``reasoning_input=False`` (legacy reasoners) never get it. Inputs are not mutated.
    """
    messages = list(messages)
    keep_from = len(messages)
    if get_model_profile(model).reasoning_input:
        keep_from = next((i + 1 for i in range(len(messages) - 1, -1, -1) if _opens_turn(messages, i)), 0)
    return [{k: v for k, v in m.items() if k not in _REASONING_KEYS}
            if i < keep_from and any(k in m for k in _REASONING_KEYS) else dict(m)
            for i, m in enumerate(messages)]


def _opens_turn(messages: list[Mapping[str, Any]], i: int) -> bool:
    # A user message right after tool results carries their attachments (split_tool_attachments):
    # it belongs to the tool loop, not a new user turn.
    return messages[i].get("role") == "user" and not (i and messages[i - 1].get("role") == "tool")


# -- strict JSON schemas ---------------------------------------------------------------------------

_NULL: dict[str, Any] = {"type": "null"}
# Keys whose value is a map of name -> schema, and keys whose value is one schema or a list of them.
_SCHEMA_MAPS = ("$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "not", "additionalProperties", "contains", "if", "then", "else")


def to_strict_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema made valid for strict mode (OpenAI ``strict: true`` tools and json_schema).

    Every object, at every depth ($defs, items, unions, additionalProperties schemas), gets
    ``additionalProperties: false`` (unless it already says otherwise) and all its properties in
    ``required``; optional properties without a non-null default become nullable, so the model can
    still leave them out by sending null (those with a real default must be filled in: null would
    fail the caller's validation). ``default`` is removed (strict mode rejects it, and with every
    property required it means nothing), a single-entry ``allOf`` is inlined, and a ``$ref`` with
    sibling keys is expanded, siblings winning, as the openai SDK does. Pure: returns a new dict.
    """
    return _strict(schema, root=schema, depth=0)


def _strict(node: Mapping[str, Any], *, root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if depth > 64:
        raise InvalidInputError("JSON schema nests too deeply (or a $ref expands into itself)")
    ref = node.get("$ref")
    siblings = {k: v for k, v in node.items() if k not in ("$ref", "default")}
    if isinstance(ref, str) and siblings:  # strict mode takes a bare $ref only
        return _strict({**_resolve_ref(root, ref), **siblings}, root=root, depth=depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "default":
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = value  # rebuilt below, once required is known
        elif key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _strict(sub, root=root, depth=depth + 1) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_strict(sub, root=root, depth=depth + 1) if isinstance(sub, Mapping) else sub
                        for sub in value]
        elif key in _SCHEMA_ONE and isinstance(value, Mapping):
            out[key] = _strict(value, root=root, depth=depth + 1)
        else:
            out[key] = value
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
        del out["allOf"]
        out = {**all_of[0], **out}
    properties = out.get("properties")
    if isinstance(properties, Mapping):
        required = set(out.get("required") or ())
        out["properties"] = {
            name: _nullable(strict) if _optional(name, sub, required) else strict
            for name, sub in properties.items()
            for strict in (_strict(sub, root=root, depth=depth + 1),)}
        out["required"] = list(properties)
    if (out.get("type") == "object" or "properties" in out) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _optional(name: str, schema: Any, required: set[str]) -> bool:
    # Optional without a real default: null stands for "left out". A property with a non-null
    # default stays non-nullable (required, the model fills it in), since a null would fail the
    # caller's own validation (a pydantic ``int = 3`` field refuses None).
    return name not in required and not (isinstance(schema, Mapping) and schema.get("default") is not None)


def _resolve_ref(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise InvalidInputError(f"Only local $ref values can be made strict, got {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, Mapping) or part not in target:
            raise InvalidInputError(f"$ref {ref!r} does not resolve in the schema")
        target = target[part]
    if not isinstance(target, Mapping):
        raise InvalidInputError(f"$ref {ref!r} does not point at a schema")
    return target


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts null (already-nullable schemas come back unchanged)."""
    kind = schema.get("type")
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            if any(isinstance(b, Mapping) and b.get("type") == "null" for b in branches):
                return schema
            return {**schema, key: [*branches, _NULL]}
    if "enum" in schema and None in schema["enum"]:
        return schema
    if "enum" in schema or "const" in schema or "$ref" in schema or kind is None or kind in ("object", "array"):
        meta: dict[str, Any] = {k: schema[k] for k in ("description", "title") if k in schema}
        return {"anyOf": [schema, _NULL], **meta}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return schema if kind == "null" else {**schema, "type": [kind, "null"]}


def json_schema_response_format(schema: Mapping[str, Any], *, strict: bool | None = None,
                                name: str | None = None) -> dict[str, Any]:
    """A ``response_format`` of type ``json_schema``, from any of the three shapes callers hold:

    - a ready-made response format ``{"type": "json_schema", "json_schema": {...}}``: used as it is;
    - a json_schema spec ``{"name": ..., "schema": {...}, "strict"?: ...}``: wrapped;
    - a plain JSON schema: named (``name``, else its ``title``, else "response") and wrapped.

    ``strict=True`` makes the schema strict-valid (``to_strict_json_schema``); a ``strict`` that
    contradicts the one already in a ready-made format or spec is refused rather than overridden.
    Never mutates its input.
    """
    if schema.get("type") == "json_schema" and isinstance(schema.get("json_schema"), Mapping):
        spec = dict(schema["json_schema"])
    elif "schema" in schema and "name" in schema:
        spec = dict(schema)
    else:
        title = name or schema.get("title") or "response"
        spec = {"name": "".join(c if c.isalnum() or c in "_-" else "_" for c in str(title))[:64], "schema": schema}
        if schema.get("description"):
            spec["description"] = schema["description"]
    if strict is not None and isinstance(spec.get("strict"), bool) and spec["strict"] is not strict:
        raise InvalidInputError(f"The schema already says strict={spec['strict']} but strict={strict} was "
                                "passed as well: set it in one place")
    if strict is None:
        strict = spec.get("strict") if isinstance(spec.get("strict"), bool) else None
    if strict:
        spec["schema"] = to_strict_json_schema(spec["schema"])
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}
