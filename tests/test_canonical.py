"""Core helpers over canonical dicts that both adapters share."""

from __future__ import annotations

import copy
import json
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from a2agent import MODEL_PROFILES, InvalidInputError, ModelProfile, get_model_profile
from a2agent._canonical import (
    json_schema_response_format,
    normalize_tool_choice,
    reasoning_for_request,
    split_tool_attachments,
    strip_internal_keys,
    to_strict_json_schema,
    token_details,
)
from tests.strict_check import accepts_null, strict_violations


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


# -- strict schemas ---------------------------------------------------------------------------------

class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip: str | None = None


class Pet(BaseModel):
    kind: Literal["cat", "dog"]
    name: str = "Rex"


class Owner(BaseModel):
    """Someone with pets."""

    name: str
    nickname: str | None = None
    age: int = 30
    home: Address = Field(description="Where they live")  # $ref + description sibling
    work: Address | None = None
    pets: list[Pet] = Field(default_factory=list)
    color: Color = Color.RED
    tag: int | str
    extra: dict[str, Address] = Field(default_factory=dict)


class Tree(BaseModel):
    value: int
    children: list[Tree] = Field(default_factory=list)


STRICT_CASES = [
    ("optional_fields", Address, {"zip"}),
    ("defaults_and_literal", Pet, set()),
    ("nested_refs_lists_enums_unions", Owner, {"nickname", "work", "pets", "extra"}),
    ("recursive", Tree, {"children"}),
    ("plain_dict_schema", {"type": "object", "properties": {"a": {"type": "integer", "default": 1},
                                                            "b": {"enum": ["x", "y"]}, "c": {"enum": ["x"]},
                                                            "d": {"type": "string", "default": None}},
                           "required": ["b"]}, {"c", "d"}),
]


@pytest.mark.parametrize(("schema", "optional"), [c[1:] for c in STRICT_CASES], ids=[c[0] for c in STRICT_CASES])
def test_to_strict_json_schema(schema: Any, optional: set[str]) -> None:
    source = schema.model_json_schema() if isinstance(schema, type) else schema
    before = copy.deepcopy(source)
    strict = to_strict_json_schema(source)
    assert source == before  # pure
    assert strict_violations(strict) == []
    for name, prop in strict["properties"].items():
        assert accepts_null(prop) is (name in optional), (name, prop)


def test_to_strict_json_schema_details() -> None:
    strict = to_strict_json_schema(Owner.model_json_schema())
    props = strict["properties"]
    assert props["nickname"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Nickname"}
    assert props["age"] == {"type": "integer", "title": "Age"}  # a real default: filled in, never null
    # $ref with a sibling description is inlined and made strict, the sibling wins
    assert props["home"]["description"] == "Where they live" and props["home"]["additionalProperties"] is False
    assert props["home"]["required"] == ["street", "zip"]
    assert props["color"] == {"$ref": "#/$defs/Color"}
    assert props["work"]["anyOf"] == [{"$ref": "#/$defs/Address"}, {"type": "null"}]
    assert props["tag"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "Tag"}
    assert strict["$defs"]["Pet"]["required"] == ["kind", "name"]
    assert strict["$defs"]["Pet"]["properties"]["kind"] == {"enum": ["cat", "dog"], "title": "Kind", "type": "string"}
    assert props["extra"]["anyOf"][0]["additionalProperties"] == {"$ref": "#/$defs/Address"}


def test_to_strict_json_schema_refuses_remote_refs() -> None:
    with pytest.raises(InvalidInputError, match="local"):
        to_strict_json_schema({"properties": {"a": {"$ref": "https://x/s.json", "description": "d"}}})


# -- reasoning pass-back ----------------------------------------------------------------------------

def _ai(tag: str, calls: bool = True, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if calls else tag, "reasoning_content": tag,
                               "reasoning_signature": f"sig-{tag}", **extra}
    if calls:
        message["tool_calls"] = [{"id": tag, "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    return message


def _tool(tag: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": tag, "content": "ok"}


USER = {"role": "user", "content": "hi"}
ATTACHMENTS = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}

REASONING_CASES = [
    ("current_loop_kept", "glm-5", [USER, _ai("a"), _tool("a"), _ai("b"), _tool("b")], {"a", "b"}),
    ("earlier_turns_dropped", "glm-5",
     [USER, _ai("a"), _tool("a"), _ai("x", calls=False), USER, _ai("b"), _tool("b")], {"b"}),
    ("new_user_turn_drops_all", "glm-5", [USER, _ai("a"), _tool("a"), _ai("x", calls=False), USER], set()),
    ("tool_attachments_stay_in_the_loop", "glm-5", [USER, _ai("a"), _tool("a"), ATTACHMENTS], {"a"}),
    ("no_user_message", "glm-5", [{"role": "system", "content": "s"}, _ai("a"), _tool("a")], {"a"}),
    ("model_rejects_reasoning_input", "legacy-reasoner", [USER, _ai("a"), _tool("a")], set()),
]


@pytest.mark.parametrize(("model", "messages", "kept"), [c[1:] for c in REASONING_CASES],
                         ids=[c[0] for c in REASONING_CASES])
def test_reasoning_for_request(monkeypatch: pytest.MonkeyPatch, model: str, messages: list[dict[str, Any]],
                               kept: set[str]) -> None:
    legacy = ModelProfile(id="legacy-reasoner", owned_by="deepseek", context_window=1, max_output_tokens=1,
                          reasoning="always", reasoning_input=False)
    monkeypatch.setitem(MODEL_PROFILES, legacy.id, legacy)
    before = copy.deepcopy(messages)
    out = reasoning_for_request(messages, model)
    assert messages == before
    assert {m["reasoning_content"] for m in out if "reasoning_content" in m} == kept
    assert {m["reasoning_signature"] for m in out if "reasoning_signature" in m} == {f"sig-{t}" for t in kept}
    assert [{k: v for k, v in m.items() if not k.startswith("reasoning")} for m in out] == [
        {k: v for k, v in m.items() if not k.startswith("reasoning")} for m in messages]


def test_strip_internal_keys() -> None:
    messages = [_ai("a"), {**_tool("a"), "is_error": True}, USER]
    assert strip_internal_keys(messages) == [
        {k: v for k, v in _ai("a").items() if k != "reasoning_signature"}, _tool("a"), USER]
    assert messages[1]["is_error"] is True


# -- model profiles per wire format -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("model", "api_format", "json_schema", "json_mode"),
    [("qwen3.6-plus", "openai", True, True), ("qwen3.6-plus", "anthropic", False, False),
     ("minimax-m2.7", "openai", True, True), ("deepseek-chat", "openai", False, True),
     ("glm-5", "anthropic", False, False), ("unknown-model", "openai", False, True)],
)
def test_profile_for_format(model: str, api_format: str, json_schema: bool, json_mode: bool) -> None:
    profile = get_model_profile(model).for_format(api_format)
    assert (profile.json_schema, profile.json_mode) == (json_schema, json_mode)
    assert profile.context_window == get_model_profile(model).context_window
    with pytest.raises(InvalidInputError, match="api_format"):
        get_model_profile(model).for_format("grpc")


def test_unknown_model_profile_is_built_once_and_overrides_leave_it_alone() -> None:
    profile = get_model_profile("not-in-the-catalogue-1")
    assert profile is get_model_profile("not-in-the-catalogue-1")  # looked up on every adapter call
    assert (profile.known, profile.id, profile.owned_by) == (False, "not-in-the-catalogue-1", "unknown")
    wider = get_model_profile("not-in-the-catalogue-1", context_window=999_999)
    assert wider.context_window == 999_999 and wider is not profile
    assert get_model_profile("not-in-the-catalogue-1").context_window == profile.context_window != 999_999
    with pytest.raises(ValidationError):
        profile.context_window = 1  # type: ignore[misc]  # frozen: one instance can serve every caller


PERSON = {"title": "Person", "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name"]}
READY = {"type": "json_schema", "json_schema": {"name": "P", "schema": PERSON, "strict": False}}


@pytest.mark.parametrize(
    ("schema", "strict", "name", "strict_out", "schema_out"),
    [
        (PERSON, None, None, None, PERSON),
        (PERSON, False, None, False, PERSON),
        (PERSON, True, None, True, "strict"),
        ({"name": "P", "schema": PERSON}, None, None, None, PERSON),
        ({"name": "P", "schema": PERSON, "strict": True}, None, None, True, "strict"),
        (READY, None, None, False, PERSON),
        (READY, False, None, False, PERSON),
    ],
    ids=["plain", "plain_not_strict", "plain_strict", "spec", "spec_strict_inside", "ready_made", "ready_same_strict"],
)
def test_json_schema_response_format_takes_three_shapes(schema: dict[str, Any], strict: bool | None,
                                                        name: str | None, strict_out: bool | None,
                                                        schema_out: Any) -> None:
    before = json.dumps(schema, sort_keys=True)
    out = json_schema_response_format(schema, strict=strict, name=name)
    assert json.dumps(schema, sort_keys=True) == before  # never mutated
    spec = out["json_schema"]
    assert out["type"] == "json_schema" and spec["name"] in ("Person", "P")
    assert spec.get("strict") == strict_out
    expected = to_strict_json_schema(PERSON) if schema_out == "strict" else schema_out
    assert spec["schema"] == expected


def test_json_schema_response_format_refuses_contradicting_strict() -> None:
    with pytest.raises(InvalidInputError, match="strict=False but strict=True"):
        json_schema_response_format(READY, strict=True)


@pytest.mark.parametrize("text", [None, 123])
def test_a_tool_result_text_that_is_not_a_string_is_invalid_input_naming_it(text: Any) -> None:
    messages = [{"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": text}]}]
    with pytest.raises(InvalidInputError, match=r"messages\[1\]\.content\[0\]\.text must be a string"):
        split_tool_attachments(messages)
