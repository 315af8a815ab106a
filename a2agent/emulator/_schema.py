"""Deterministic JSON-Schema instance generator for the emulator's tool arguments and JSON output.

Covers what tool and response schemas use in practice: type (incl. lists of types), properties,
required, enum, const, default, anyOf/oneOf/allOf, $ref into $defs/definitions, items,
min/max bounds, minLength, minItems, format (date, date-time, email, uri, uuid).
Numbers come from a queue so a scripted "plan" can feed real values through a tool chain.
"""

from __future__ import annotations

from collections import deque
from typing import Any

_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


_DEEP = 4


class InstanceGenerator:
    def __init__(self, root: dict[str, Any], numbers: deque[float] | None = None, text: str = "example") -> None:
        self.root = root
        self.numbers = numbers if numbers is not None else deque()
        self.text = text

    def generate(self, schema: dict[str, Any] | None = None, name: str = "", depth: int = 0) -> Any:
        schema = self.root if schema is None else schema
        if depth > 12:
            return None
        if "$ref" in schema:
            return self.generate(self._resolve(schema["$ref"]), name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
                return self.generate(options[0], name, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if "$ref" in part else part
                merged = _merge(merged, part)
            return self.generate(merged, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            # Deep inside a (possibly recursive) schema, stop growing: the minimum the schema allows.
            count = schema.get("minItems", 0) if depth > _DEEP else max(1, schema.get("minItems", 1))
            return [self.generate(schema.get("items", {}), name, depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            return self._number(schema, kind == "integer")
        if kind == "boolean":
            return bool(schema.get("default", True))
        if kind == "null":
            return None
        return self._string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        # Every declared property: valid whether or not it is required, and it exercises more of
        # the caller's parsing than the required subset would.
        props: dict[str, Any] = schema.get("properties", {})
        if depth > _DEEP:
            required = set(schema.get("required", ()))
            props = {n: p for n, p in props.items() if n in required}
        return {n: self.generate(p, n, depth + 1) for n, p in props.items()}

    def _number(self, schema: dict[str, Any], integer: bool) -> int | float:
        if self.numbers:
            value = self.numbers.popleft()
        elif "default" in schema and isinstance(schema["default"], int | float):
            value = schema["default"]
        else:
            value = 1
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is not None and value < low:
            value = low + (1 if "exclusiveMinimum" in schema else 0)
        if high is not None and value > high:
            value = high - (1 if "exclusiveMaximum" in schema else 0)
        return int(value) if integer else float(value)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        if isinstance(schema.get("default"), str):
            return str(schema["default"])
        fmt = schema.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt]
        value = self.text
        min_len = schema.get("minLength", 0)
        if len(value) < min_len:
            value = value + "x" * (min_len - len(value))
        max_len = schema.get("maxLength")
        return value[:max_len] if max_len else value

    def _resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            return {}
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**a, **b}
    if "properties" in a or "properties" in b:
        out["properties"] = {**a.get("properties", {}), **b.get("properties", {})}
        out["required"] = [*a.get("required", []), *b.get("required", [])]
    return out


def generate_instance(schema: dict[str, Any], numbers: list[float] | None = None, text: str = "example") -> Any:
    return InstanceGenerator(schema, deque(numbers or ()), text).generate()
