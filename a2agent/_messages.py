"""Pure helpers over canonical (OpenAI-shape) requests and responses, shared by both adapters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import InvalidInputError

__all__ = ["normalize_tool_choice", "split_tool_attachments", "token_details"]

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


def split_tool_attachments(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make tool messages wire-legal: a ``tool`` message carries text only.

    Frameworks let a tool return images or files; those parts are moved, after the whole run of
    consecutive tool messages (the API wants tool results right after the assistant turn), into
    one ``user`` message that says which call returned them. Inputs are not mutated.
    """
    out: list[dict[str, Any]] = []
    deferred: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") != "tool" and deferred:
            out.append({"role": "user", "content": deferred})
            deferred = []
        content = message.get("content")
        if message.get("role") == "tool" and isinstance(content, list):
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
