"""Core helpers over canonical dicts that both adapters share."""

from __future__ import annotations

from typing import Any

import pytest

from a2agent import InvalidInputError
from a2agent._messages import normalize_tool_choice, token_details


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({}, (None, None)),
        ({"prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}},
         (4, 2)),
        ({"prompt_cache_hit_tokens": 7}, (7, None)),
        ({"prompt_tokens_details": {"cached_tokens": None}, "prompt_cache_hit_tokens": 3}, (3, None)),
        ({"prompt_tokens_details": None, "completion_tokens_details": None}, (None, None)),
        ({"prompt_tokens_details": {"cached_tokens": 0}, "prompt_cache_hit_tokens": 9}, (0, None)),
    ],
    ids=["empty", "openai", "deepseek", "openai_null_falls_back", "null_details", "zero_is_reported"],
)
def test_token_details(usage: dict[str, Any], expected: tuple[int | None, int | None]) -> None:
    assert token_details(usage) == expected


@pytest.mark.parametrize(
    ("choice", "wire"),
    [("auto", "auto"), ("none", "none"), ("required", "required"), ("any", "required"),
     ("add", {"type": "function", "function": {"name": "add"}}),
     ({"type": "function", "function": {"name": "add"}}, {"type": "function", "function": {"name": "add"}})],
    ids=["auto", "none", "required", "any", "name", "dict"],
)
def test_normalize_tool_choice(choice: Any, wire: Any) -> None:
    assert normalize_tool_choice(choice, ["add"]) == wire


def test_normalize_tool_choice_names_the_problem() -> None:
    with pytest.raises(InvalidInputError, match="'divide' is not one of the bound tools"):
        normalize_tool_choice("divide", ["add"])
