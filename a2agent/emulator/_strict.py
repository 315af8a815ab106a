"""OpenAI strict mode (``strict: true`` on a function or a ``json_schema`` response format): the
schema subset the real API accepts, checked the way it checks it, first violation wins.

From OpenAI's structured-outputs guide ("Supported schemas"): the root is an object and not
``anyOf``; every object, at any depth (properties, items, anyOf branches, $defs), has
``additionalProperties: false`` and lists every property in ``required``; composition keywords
(allOf, not, if/then/else, dependentRequired, dependentSchemas) and the object/array keywords
outside the supported list are refused. ``oneOf`` is refused too ("'oneOf' is not permitted" is
the API's answer). A ``$ref`` with sibling keywords is refused: the openai SDK inlines such refs
before sending because the API rejects them. String/number/array bounds (minLength, maxLength,
pattern, format, minimum, maximum, multipleOf, minItems, maxItems) are supported since May 2025
and pass.
"""

from __future__ import annotations

from typing import Any

UNSUPPORTED = (
    "allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties", "unevaluatedProperties", "propertyNames", "minProperties", "maxProperties",
    "unevaluatedItems", "contains", "minContains", "maxContains", "uniqueItems",
)


class StrictSchemaError(ValueError):
    """``str(err)`` reads like the API's: "In context=('properties', 'a'), ..."."""


def check_strict_schema(schema: Any) -> None:
    """Raise ``StrictSchemaError`` for the first construct strict mode refuses."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
        raise StrictSchemaError("In context=(), the root schema must be an object ('type': 'object'), not "
                                f"{_describe(schema)}.")
    _walk(schema, ())


def _describe(schema: Any) -> str:
    if not isinstance(schema, dict):
        return type(schema).__name__
    if "anyOf" in schema:
        return "'anyOf'"
    return f"type {schema.get('type')!r}"


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if isinstance(kind, list):
        return "object" in kind
    return kind == "object" or (kind is None and "properties" in node)


def _walk(node: Any, ctx: tuple[str, ...]) -> None:
    if not isinstance(node, dict):
        return
    where = f"In context={ctx!r}, "
    for keyword in UNSUPPORTED:
        if keyword in node:
            raise StrictSchemaError(f"{where}'{keyword}' is not permitted.")
    if "$ref" in node and len(node) > 1:
        others = ", ".join(sorted(k for k in node if k != "$ref"))
        raise StrictSchemaError(f"{where}'$ref' cannot have sibling keywords ({others}); inline the definition.")
    if _is_object(node):
        if node.get("additionalProperties") is not False:
            raise StrictSchemaError(f"{where}'additionalProperties' is required to be supplied and to be false.")
        props = node.get("properties") or {}
        required = node.get("required")
        missing = [k for k in props if not isinstance(required, list) or k not in required]
        if missing:
            raise StrictSchemaError(f"{where}'required' is required to be supplied and to be an array including "
                                    f"every key in properties. Missing {missing[0]!r}.")
    for name, sub in (node.get("properties") or {}).items():
        _walk(sub, (*ctx, "properties", name))
    if isinstance(node.get("items"), dict):
        _walk(node["items"], (*ctx, "items"))
    for i, sub in enumerate(node.get("anyOf") or []):
        _walk(sub, (*ctx, "anyOf", str(i)))
    for defs in ("$defs", "definitions"):
        for name, sub in (node.get(defs) or {}).items():
            _walk(sub, (*ctx, defs, name))
