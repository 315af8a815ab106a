"""Deterministic JSON-Schema instance generator for the emulator's tool arguments and JSON output.

Covers what tool and response schemas use in practice: type (incl. lists of types), properties,
required, additionalProperties, enum, const, default, anyOf/oneOf/allOf, $ref into $defs/definitions,
items/prefixItems, min/max/exclusive bounds, multipleOf, minLength/maxLength, pattern, minItems/
maxItems, minProperties, format (the ones OpenAI strict mode lists). Every instance must validate:
the emulator is the oracle, and an invalid answer would hide adapter bugs or invent them.
Numbers come from a queue so a scripted "plan" can feed real values through a tool chain.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ._regex import sample

_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "12:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "P1D",
}


_DEEP = 4


class InstanceGenerator:
    def __init__(self, root: dict[str, Any], numbers: deque[float] | None = None, text: str = "example",
                 strings: Callable[[str], str | None] | None = None) -> None:
        """``strings`` maps a property name to a value read off the prompt ("name" -> "Ann"), or None
        to fall back to ``text``."""
        self.root = root
        self.numbers = numbers if numbers is not None else deque()
        self.text = text
        self.strings = strings

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
                # A value rather than null while shallow; deep inside a recursive schema, null ends it.
                nulls = [s for s in schema[key] if s.get("type") == "null"]
                options = (nulls if depth > _DEEP else []) + [s for s in schema[key] if s not in nulls] + nulls
                return self.generate(options[0], name, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._resolve(part["$ref"]) if "$ref" in part else part
                merged = _merge(merged, part)
            return self.generate(merged, name, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
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
        required = list(schema.get("required", ()))
        if depth > _DEEP:
            props = {n: p for n, p in props.items() if n in required}
        out = {n: self.generate(p, n, depth + 1) for n, p in props.items()}
        extra = schema.get("additionalProperties")
        extra_schema = extra if isinstance(extra, dict) else {}
        wanted = [n for n in required if n not in out]
        if extra is not False:  # minProperties beyond the declared ones
            wanted += [f"key{i}" for i in range(max(0, schema.get("minProperties", 0) - len(out) - len(wanted)))]
        for n in wanted:
            out[n] = self.generate(extra_schema, n, depth + 1)
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or (schema["items"] if isinstance(schema.get("items"), list) else [])
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        low = max(schema.get("minItems", 0), len(prefix))
        # Deep inside a (possibly recursive) schema, stop growing: the minimum the schema allows.
        count = low if depth > _DEEP or schema.get("uniqueItems") else max(1, low)
        if "maxItems" in schema:
            count = min(count, schema["maxItems"])
        return [self.generate(prefix[i] if i < len(prefix) else items, name, depth + 1) for i in range(count)]

    def _number(self, schema: dict[str, Any], integer: bool) -> int | float:
        if self.numbers:
            value = self.numbers.popleft()
        elif "default" in schema and isinstance(schema["default"], int | float):
            value = schema["default"]
        else:
            value = 1
        bounds = _Bounds(schema, integer)
        anchors = [value, *bounds.anchors()]
        for candidate in (c for a in anchors for c in bounds.around(a)):
            if bounds.fits(candidate):
                value = candidate
                break
        return int(value) if integer else float(value)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        if isinstance(schema.get("default"), str):
            return str(schema["default"])
        fmt = schema.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt]
        found = self.strings(name) if self.strings is not None and name else None
        value = found if found is not None else self.text
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not _search(pattern, value):
            value = sample(pattern) or value
        min_len = schema.get("minLength", 0)
        if len(value) < min_len:
            value = value + "x" * (min_len - len(value))
        max_len = schema.get("maxLength")
        return value[:max_len] if isinstance(max_len, int) else value

    def _resolve(self, ref: str) -> dict[str, Any]:
        if ref == "#":
            return self.root
        if not ref.startswith("#/"):
            return {}
        node: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if {"properties", "required", "additionalProperties"} & schema.keys():
        return "object"
    if {"items", "prefixItems", "minItems"} & schema.keys():
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"} & schema.keys():
        return "number"
    return "string"


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True  # not a pattern we can check: leave the value alone


class _Bounds:
    """minimum/maximum (inclusive, or exclusive as a number or as draft-4 booleans) and multipleOf."""

    def __init__(self, schema: dict[str, Any], integer: bool) -> None:
        self.integer = integer
        self.step = schema.get("multipleOf") if isinstance(schema.get("multipleOf"), int | float) else None
        self.low, self.low_open = _bound(schema, "minimum", "exclusiveMinimum", max)
        self.high, self.high_open = _bound(schema, "maximum", "exclusiveMaximum", min)

    def fits(self, v: float) -> bool:
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            return False
        if self.integer and v != int(v):
            return False
        # The same float test jsonschema applies, so 0.3 with multipleOf 0.1 counts as a miss.
        return not self.step or (v / self.step) == int(v / self.step)

    def anchors(self) -> list[float]:
        ends = [b for b in (self.low, self.high) if b is not None]
        mid = [(self.low + self.high) / 2] if self.low is not None and self.high is not None else []
        return [*ends, *mid, 0]

    def around(self, a: float) -> Iterator[float]:
        step = self.step or 1
        base = round(a / step) * step if self.step else a
        for k in (0, 1, -1, 2, -2):
            v = base + k * step
            yield from (v, math.floor(v), math.ceil(v))


def _bound(schema: dict[str, Any], closed: str, opened: str, tighter: Any) -> tuple[float | None, bool]:
    found: list[tuple[float, bool]] = []
    if isinstance(schema.get(closed), int | float):
        found.append((schema[closed], schema.get(opened) is True))
    if isinstance(schema.get(opened), int | float) and not isinstance(schema.get(opened), bool):
        found.append((schema[opened], True))
    if not found:
        return None, False
    value = tighter(v for v, _ in found)
    return value, any(v == value and is_open for v, is_open in found)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**a, **b}
    if "properties" in a or "properties" in b:
        out["properties"] = {**a.get("properties", {}), **b.get("properties", {})}
        out["required"] = [*a.get("required", []), *b.get("required", [])]
    return out


def generate_instance(schema: dict[str, Any], numbers: list[float] | None = None, text: str = "example") -> Any:
    return InstanceGenerator(schema, deque(numbers or ()), text).generate()
