"""What strict mode (OpenAI ``strict: true``) demands of a JSON schema, checked at every depth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def subschemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema node under ``node`` (itself included)."""
    if not isinstance(node, dict):
        return
    yield node
    for key in ("$defs", "definitions", "properties"):
        for sub in (node.get(key) or {}).values():
            yield from subschemas(sub)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in node.get(key) or ():
            yield from subschemas(sub)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield from subschemas(node[key])


def strict_violations(schema: dict[str, Any]) -> list[str]:
    problems = []
    for node in subschemas(schema):
        if node.get("type") == "object" or "properties" in node:
            # a map type (dict[str, X]) keeps its value schema, made strict itself, as the openai SDK does
            if node.get("additionalProperties") in (None, True) or (
                    node.get("properties") and node.get("additionalProperties") is not False):
                problems.append(f"object without additionalProperties false: {node}")
            if sorted(node.get("required") or []) != sorted(node.get("properties") or {}):
                problems.append(f"object whose required is not all properties: {node}")
        if "default" in node:
            problems.append(f"default: {node}")
        if "$ref" in node and len(node) > 1:
            problems.append(f"$ref with siblings: {node}")
    return problems


def accepts_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind and "enum" not in schema):
        return True
    return any(accepts_null(b) for b in schema.get("anyOf") or schema.get("oneOf") or ())
