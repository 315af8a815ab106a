"""A string matching a JSON-Schema ``pattern``, so generated arguments satisfy strict schemas
(OpenAI strict mode allows ``pattern``).

Walks the parse tree of Python's own regex parser: the shortest repetition, the first branch, the
first character of a class. Lookarounds are skipped, so the caller checks the result with
``re.search`` and treats a mismatch as "no sample".
"""

from __future__ import annotations

import re
import string
from re import _parser as _sre  # type: ignore[attr-defined]  # private, stable since 3.11: no 2nd grammar
from typing import Any

_CATEGORY = {
    "CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "a", "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "-",
}
_CANDIDATES = string.ascii_letters + string.digits + "-_ .@/"


def sample(pattern: str) -> str | None:
    """A string ``re.search(pattern, s)`` accepts, or None when the pattern defeats the walker."""
    try:
        tree = _sre.parse(pattern)
        groups: dict[int, str] = {}
        out = _walk(list(tree), groups)
    except (re.error, RecursionError, ValueError, IndexError):
        return None
    return out if re.search(pattern, out) else None


def _walk(items: list[tuple[Any, Any]], groups: dict[int, str]) -> str:
    return "".join(_item(str(op), arg, groups) for op, arg in items)


def _item(op: str, arg: Any, groups: dict[int, str]) -> str:
    if op == "LITERAL":
        return chr(arg)
    if op in ("ANY", "NOT_LITERAL"):
        return "a" if op == "ANY" or arg != ord("a") else "b"
    if op == "IN":
        return _char_class(arg)
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _high, body = arg
        return _walk(list(body), groups) * int(low)
    if op == "SUBPATTERN":
        group, body = arg[0], arg[-1]
        text = _walk(list(body), groups)
        if group is not None:
            groups[group] = text
        return text
    if op == "ATOMIC_GROUP":
        return _walk(list(arg), groups)
    if op == "BRANCH":
        return _walk(list(arg[1][0]), groups)
    if op == "GROUPREF":
        return groups.get(arg, "")
    if op == "GROUPREF_EXISTS":
        _group, yes, _no = arg
        return _walk(list(yes), groups)
    return ""  # AT (anchors), ASSERT, ASSERT_NOT: zero-width


def _char_class(items: list[tuple[Any, Any]]) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    if not negate:
        op, arg = items[0]
        if str(op) == "LITERAL":
            return chr(arg)
        if str(op) == "RANGE":
            return chr(arg[0])
        if str(op) == "CATEGORY":
            return _CATEGORY.get(str(arg), "a")
    klass = re.compile("[" + ("^" if negate else "") + "".join(_class_text(op, arg) for op, arg in items
                                                                  if str(op) != "NEGATE") + "]")
    return next((c for c in _CANDIDATES if klass.fullmatch(c)), "a")


def _class_text(op: Any, arg: Any) -> str:
    name = str(op)
    if name == "LITERAL":
        return re.escape(chr(arg))
    if name == "RANGE":
        return re.escape(chr(arg[0])) + "-" + re.escape(chr(arg[1]))
    if name == "CATEGORY":
        return {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
                "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}.get(str(arg), "")
    return ""
