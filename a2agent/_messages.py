"""Pure helpers over canonical (OpenAI-shape) request messages, shared by both adapters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["split_tool_attachments"]


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
