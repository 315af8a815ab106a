"""The emulator's request rules (docs/emulator.md), one table row each, over real HTTP on loopback.

The emulator is the oracle for every test that crosses HTTP, so it must refuse what the real
backends refuse and answer what they answer: forced tool choices at every step, plan steps per
tool call, OpenAI strict-mode schemas, tool-turn pairing, token limits, and the Messages API's
turn rules. Every generated JSON answer is checked against its schema with ``jsonschema``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from a2agent import A2AgentClient, BadRequestError
from a2agent.emulator import EmulatorServer
from a2agent.emulator._schema import generate_instance

jsonschema = pytest.importorskip("jsonschema")

INT = {"type": "integer"}
ARGS = {"type": "object", "properties": {"a": INT, "b": INT}, "required": ["a", "b"], "additionalProperties": False}
ADD = {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": ARGS}}
MUL = {"type": "function", "function": {"name": "multiply", "description": "Multiply.", "parameters": ARGS}}
A_ADD = {"name": "add", "description": "Add two integers.", "input_schema": ARGS}
A_MUL = {"name": "multiply", "description": "Multiply.", "input_schema": ARGS}
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": INT},
          "required": ["name", "age"], "additionalProperties": False}


def call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def tool(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


AFTER_ADD = [user("Please add 3 and 4"), {"role": "assistant", "content": None,
                                          "tool_calls": [call("c1", "add", {"a": 3, "b": 4})]}, tool("c1", "7")]
A_AFTER_ADD = [user("Please add 3 and 4"),
               {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "add",
                                                  "input": {"a": 3, "b": 4}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "7"}]}]


def post(emu: EmulatorServer, body: dict[str, Any], anthropic: bool = False) -> httpx.Response:
    path = "/messages" if anthropic else "/chat/completions"
    return httpx.post(emu.base_url + path, json=body, headers={"authorization": f"Bearer {emu.api_key}"})


def ok_message(emu: EmulatorServer, body: dict[str, Any]) -> dict[str, Any]:
    response = post(emu, body)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]  # type: ignore[no-any-return]


def validate(instance: Any, schema: dict[str, Any]) -> None:
    cls = jsonschema.validators.validator_for(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(instance)


def assert_openai_400(response: httpx.Response, param: str, fragment: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["code"]
    assert fragment in error["message"], error["message"]


def assert_anthropic_400(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert fragment in body["error"]["message"], body["error"]["message"]


# -- rule 1: tool_choice and response_format bind every step ---------------------------------------

@pytest.mark.parametrize(
    ("choice", "expected"),
    # required: a tool not called yet this turn (add was), as a model makes progress; named: that one
    [("required", "multiply"), ({"type": "function", "function": {"name": "add"}}, "add")],
    ids=["required", "named"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_forced_tool_choice_calls_a_tool_after_tool_results(emu: EmulatorServer, choice: Any, expected: str,
                                                            stream: bool) -> None:
    body = {"model": "deepseek-chat", "messages": AFTER_ADD, "tools": [ADD, MUL], "tool_choice": choice}
    if stream:
        with A2AgentClient(base_url=emu.base_url, api_key=emu.api_key) as client, \
                client.stream_chat_completions(body) as s:
            message = s.get_final_completion()["choices"][0]["message"]
    else:
        message = ok_message(emu, body)
    calls = message.get("tool_calls") or []
    assert [c["function"]["name"] for c in calls] == [expected], message
    validate(json.loads(calls[0]["function"]["arguments"]), ARGS)


def test_auto_tool_choice_answers_in_text_after_tool_results(emu: EmulatorServer) -> None:
    message = ok_message(emu, {"model": "deepseek-chat", "messages": AFTER_ADD, "tools": [ADD, MUL]})
    assert not message.get("tool_calls") and message["content"].endswith("The final answer is 7.")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "any"}, "multiply"), ({"type": "tool", "name": "add"}, "add")],  # as in the OpenAI format
    ids=["any", "named"],
)
def test_anthropic_forced_tool_choice_calls_a_tool_after_tool_results(emu: EmulatorServer, choice: Any,
                                                                      expected: str) -> None:
    body = {"model": "deepseek-chat", "max_tokens": 200, "messages": A_AFTER_ADD, "tools": [A_ADD, A_MUL],
            "tool_choice": choice}
    response = post(emu, body, anthropic=True)
    assert response.status_code == 200, response.text
    blocks = [b for b in response.json()["content"] if b["type"] == "tool_use"]
    assert [b["name"] for b in blocks] == [expected] and response.json()["stop_reason"] == "tool_use"
    validate(blocks[0]["input"], ARGS)


@pytest.mark.parametrize(
    ("thinking", "choice", "status"),
    [(None, "required", 400), ({"type": "enabled"}, {"type": "function", "function": {"name": "add"}}, 400),
     ({"type": "disabled"}, "required", 200), (None, "auto", 200)],
    ids=["default_thinking_required", "thinking_named", "thinking_off", "auto"],
)
def test_kimi_refuses_forced_tool_choice_while_thinking(emu: EmulatorServer, thinking: Any, choice: Any,
                                                        status: int) -> None:
    body: dict[str, Any] = {"model": "kimi-k2.5", "messages": [user("Please add 3 and 4")], "tools": [ADD],
                            "tool_choice": choice}
    if thinking:
        body["thinking"] = thinking
    response = post(emu, body)
    if status == 400:
        assert_openai_400(response, "tool_choice", "is incompatible with thinking enabled")
    else:
        assert response.status_code == 200, response.text
    a_body = {"model": "kimi-k2.5", "max_tokens": 200, "messages": [user("Please add 3 and 4")], "tools": [A_ADD],
              "tool_choice": {"type": "any"} if choice != "auto" else {"type": "auto"}}
    if thinking:
        a_body["thinking"] = {**thinking, "budget_tokens": 1024} if thinking["type"] == "enabled" else thinking
    a_response = post(emu, a_body, anthropic=True)
    if status == 400:
        assert_anthropic_400(a_response, "is incompatible with thinking enabled")
    else:
        assert a_response.status_code == 200, a_response.text


@pytest.mark.parametrize(
    ("fmt", "check"),
    [({"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
      lambda v: validate(v, PERSON)),
     ({"type": "json_object"}, lambda v: isinstance(v, dict) or pytest.fail(f"not an object: {v!r}"))],
    ids=["json_schema", "json_object"],
)
def test_response_format_binds_the_answer_after_tool_results(emu: EmulatorServer, fmt: dict[str, Any],
                                                             check: Any) -> None:
    message = ok_message(emu, {"model": "qwen3.7-max", "messages": AFTER_ADD, "tools": [ADD, MUL],
                               "response_format": fmt})
    assert not message.get("tool_calls")
    check(json.loads(message["content"]))


# -- rule 2: one plan step per answered tool call --------------------------------------------------

PARALLEL_PROMPT = "In parallel: add 1 and 2, multiply 3 and 4"


def test_parallel_batch_completes_the_plan(emu: EmulatorServer) -> None:
    messages: list[dict[str, Any]] = [user(PARALLEL_PROMPT)]
    first = ok_message(emu, {"model": "deepseek-chat", "messages": messages, "tools": [ADD, MUL]})
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in first["tool_calls"]] == [
        ("add", {"a": 1, "b": 2}), ("multiply", {"a": 3, "b": 4})]
    messages += [first, tool(first["tool_calls"][0]["id"], "3"), tool(first["tool_calls"][1]["id"], "12")]
    final = ok_message(emu, {"model": "deepseek-chat", "messages": messages, "tools": [ADD, MUL]})
    assert not final.get("tool_calls"), final
    assert final["content"] == "Tool results: add -> 3, multiply -> 12. The final answer is 12."


def test_parallel_batch_completes_the_plan_anthropic(emu: EmulatorServer) -> None:
    messages = [user(PARALLEL_PROMPT),
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_a", "name": "add", "input": {"a": 1, "b": 2}},
                    {"type": "tool_use", "id": "toolu_m", "name": "multiply", "input": {"a": 3, "b": 4}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "3"},
                                             {"type": "tool_result", "tool_use_id": "toolu_m", "content": "12"}]}]
    response = post(emu, {"model": "deepseek-chat", "max_tokens": 200, "messages": messages,
                          "tools": [A_ADD, A_MUL]}, anthropic=True)
    assert response.status_code == 200, response.text
    assert [b["type"] for b in response.json()["content"]] == ["text"]
    assert response.json()["stop_reason"] == "end_turn"


# -- rule 3: strict mode schemas -------------------------------------------------------------------

def obj(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False, **extra}


LOOSE = {"type": "object", "properties": {"x": INT}, "required": ["x"]}
STRICT_REJECTED = {
    "root_without_additional_properties": ({**ARGS, "additionalProperties": None}, "additionalProperties"),
    "root_additional_properties_true": ({**ARGS, "additionalProperties": True}, "additionalProperties"),
    "nested_property_object": (obj({"inner": LOOSE}), "('properties', 'inner')"),
    "object_in_items": (obj({"rows": {"type": "array", "items": LOOSE}}), "('properties', 'rows', 'items')"),
    "object_in_defs": ({**obj({"p": {"$ref": "#/$defs/P"}}), "$defs": {"P": LOOSE}}, "('$defs', 'P')"),
    "object_in_any_of": (obj({"p": {"anyOf": [LOOSE, {"type": "null"}]}}), "('properties', 'p', 'anyOf', '0')"),
    "property_not_required": ({**ARGS, "required": ["a"]}, "Missing 'b'"),
    "required_absent": ({k: v for k, v in ARGS.items() if k != "required"}, "Missing 'a'"),
    "all_of": (obj({"p": {"allOf": [{"type": "integer"}]}}), "'allOf' is not permitted"),
    "one_of": (obj({"p": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}), "'oneOf' is not permitted"),
    "not": (obj({"p": {"type": "integer", "not": {"const": 3}}}), "'not' is not permitted"),
    "if_then_else": (obj({"p": {"type": "integer", "if": {"minimum": 0}, "then": {}, "else": {}}}),
                     "'if' is not permitted"),
    "dependent_required": (obj({"p": INT}, dependentRequired={"p": []}), "'dependentRequired' is not permitted"),
    "pattern_properties": (obj({"p": INT}, patternProperties={"^x": INT}), "'patternProperties' is not permitted"),
    "unique_items": (obj({"p": {"type": "array", "items": INT, "uniqueItems": True}}),
                     "'uniqueItems' is not permitted"),
    "ref_with_siblings": ({**obj({"p": {"$ref": "#/$defs/P", "description": "a p"}}), "$defs": {"P": obj({})}},
                          "'$ref' cannot have sibling keywords (description)"),
    "root_array": ({"type": "array", "items": INT}, "root schema must be an object"),
    "root_any_of": ({"anyOf": [ARGS, obj({})]}, "root schema must be an object"),
}
ADDRESS = obj({"street": {"type": "string", "minLength": 3, "maxLength": 40},
               "zip": {"type": "string", "pattern": r"^\d{5}(-\d{4})?$"}})
STRICT_ACCEPTED = {
    "flat": ARGS,
    "no_arguments": obj({}),
    "bounds_and_formats": obj({
        "when": {"type": "string", "format": "date-time"}, "mail": {"type": "string", "format": "email"},
        "id": {"type": "string", "format": "uuid"}, "qty": {"type": "integer", "minimum": 2, "maximum": 9},
        "step": {"type": "number", "multipleOf": 0.25, "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "minItems": 2, "maxItems": 3},
        "kind": {"const": "k"}}),
    "defs_refs_nullable": {**obj({"home": {"$ref": "#/$defs/Address"},
                                  "work": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]},
                                  "nick": {"type": ["string", "null"]}}),
                           "$defs": {"Address": ADDRESS}},
    "recursive": {**obj({"root": {"$ref": "#/$defs/Node"}}),
                  "$defs": {"Node": obj({"value": INT, "children": {"type": "array",
                                                                     "items": {"$ref": "#/$defs/Node"}}})}},
}


def strict_tool(schema: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in schema.items() if v is not None}
    return {"type": "function", "function": {"name": "fill", "parameters": params, "strict": True}}


def strict_format(schema: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in schema.items() if v is not None}
    return {"type": "json_schema", "json_schema": {"name": "out", "schema": params, "strict": True}}


@pytest.mark.parametrize(("schema", "fragment"), list(STRICT_REJECTED.values()), ids=list(STRICT_REJECTED))
@pytest.mark.parametrize("where", ["tool", "response_format"])
def test_strict_schema_rejected(emu: EmulatorServer, where: str, schema: dict[str, Any], fragment: str) -> None:
    body: dict[str, Any] = {"model": "deepseek-chat", "messages": [user("fill it")]}
    if where == "tool":
        body["tools"] = [strict_tool(schema)]
        param = "tools[0].function.parameters"
    else:
        body["response_format"] = strict_format(schema)
        param = "response_format.json_schema.schema"
    assert_openai_400(post(emu, body), param, fragment)
    # Without strict the same schema is fine: the rule is strict mode's, not JSON Schema's.
    if where == "tool":
        body["tools"][0]["function"]["strict"] = False
    else:
        body["response_format"]["json_schema"]["strict"] = False
    assert post(emu, body).status_code == 200


@pytest.mark.parametrize("schema", list(STRICT_ACCEPTED.values()), ids=list(STRICT_ACCEPTED))
def test_strict_schema_accepted_and_answers_validate(emu: EmulatorServer, schema: dict[str, Any]) -> None:
    forced = {"type": "function", "function": {"name": "fill"}}
    message = ok_message(emu, {"model": "deepseek-chat", "messages": [user("fill it with 'Main Street' 55")],
                               "tools": [strict_tool(schema)], "tool_choice": forced})
    validate(json.loads(message["tool_calls"][0]["function"]["arguments"]), schema)
    message = ok_message(emu, {"model": "deepseek-chat", "messages": [user("fill it with 'Main Street' 55")],
                               "response_format": strict_format(schema)})
    validate(json.loads(message["content"]), schema)


GENERATED = {
    "pattern": ({"type": "string", "pattern": r"^[A-Z]{2}-\d{3}$"}, []),
    "pattern_alternation_and_groups": ({"type": "string", "pattern": r"^(foo|bar)+_(?P<d>\d)(?P=d)$"}, []),
    "multiple_of_in_bounds": ({"type": "integer", "multipleOf": 3, "minimum": 4, "maximum": 10}, [500]),
    "fractional_multiple": ({"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 1, "maximum": 2}, [1]),
    "exclusive_bounds": ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2}, [-7]),
    "integer_in_fractional_bounds": ({"type": "integer", "minimum": 2.5, "maximum": 3.5}, [2.5]),
    "max_items_zero": ({"type": "array", "items": INT, "maxItems": 0}, []),
    "min_items": ({"type": "array", "items": {"type": "string"}, "minItems": 3}, []),
    "max_length_zero": ({"type": "string", "maxLength": 0}, []),
    "required_but_undeclared": ({"type": "object", "required": ["x"], "additionalProperties": INT}, []),
    "min_properties": ({"type": "object", "minProperties": 2}, []),
    "prefix_items": ({"type": "array", "prefixItems": [INT, {"type": "string", "format": "date"}]}, []),
    "unique_items": ({"type": "array", "items": INT, "uniqueItems": True}, []),
    "untyped_bounds": ({"minimum": 10}, []),
    "formats": (obj({f: {"type": "string", "format": f} for f in
                     ("date", "time", "date-time", "email", "uri", "uuid", "hostname", "ipv4", "ipv6",
                      "duration")}), []),
    "all_of_merge": ({"allOf": [{"properties": {"a": INT}, "required": ["a"]},
                                {"properties": {"b": {"type": "string", "maxLength": 2}}, "required": ["b"]}]}, []),
    "root_ref_recursion": ({"type": "object", "properties": {"v": INT, "next": {"anyOf": [{"$ref": "#"},
                                                                                         {"type": "null"}]}},
                            "required": ["v", "next"]}, []),
    **{f"strict_{k}": (v, [7, 8]) for k, v in STRICT_ACCEPTED.items()},
}


@pytest.mark.parametrize(("schema", "numbers"), list(GENERATED.values()), ids=list(GENERATED))
def test_generated_instances_satisfy_their_schema(schema: dict[str, Any], numbers: list[float]) -> None:
    validate(generate_instance(schema, numbers, text="Main Street"), schema)


# -- rule 4: wire rules, OpenAI format -------------------------------------------------------------

ASSISTANT_2 = {"role": "assistant", "content": None,
               "tool_calls": [call("c1", "add", {"a": 1, "b": 2}), call("c2", "multiply", {"a": 3, "b": 4})]}
OPENAI_REJECTED = {
    "tool_answers_unknown_id": ([user("x"), ASSISTANT_2, tool("c1", "3"), tool("zz", "1"), tool("c2", "12")],
                                {}, "messages[3].tool_call_id", "'zz'"),
    "tool_answers_an_older_turn": ([user("x"), ASSISTANT_2, tool("c1", "3"), tool("c2", "12"),
                                    {"role": "assistant", "content": "ok"}, user("again"), tool("c1", "3")],
                                   {}, "messages[6].tool_call_id", "preceding assistant message"),
    "tool_without_assistant": ([user("x"), tool("c1", "3")], {}, "messages[1].tool_call_id", "tool_call_id"),
    "call_unanswered_before_user": ([user("x"), ASSISTANT_2, tool("c1", "3"), user("and?")], {},
                                    "messages[1].tool_calls", "did not have response messages: c2"),
    "call_unanswered_before_assistant": ([user("x"), ASSISTANT_2, {"role": "assistant", "content": "hm"}], {},
                                         "messages[1].tool_calls", "c1, c2"),
    "call_unanswered_at_end": ([user("x"), ASSISTANT_2, tool("c2", "12")], {}, "messages[1].tool_calls",
                               "did not have response messages: c1"),
    "max_tokens_over_model_max": ([user("x")], {"max_tokens": 8193}, "max_tokens", "[1, 8192]"),
    "max_completion_tokens_over_model_max": ([user("x")], {"max_completion_tokens": 10**6},
                                             "max_completion_tokens", "max_completion_tokens"),
    "n_with_stream": ([user("x")], {"n": 2, "stream": True}, "n", "'stream'"),
    "thinking_tool_turn_without_reasoning": ([user("x"), ASSISTANT_2, tool("c1", "3"), tool("c2", "12")],
                                             {"thinking": {"type": "enabled"}}, "messages[1].reasoning_content",
                                             "reasoning_content"),
    "text_part_null": ([user("x"), {"role": "user", "content": [{"type": "text", "text": None}]}], {},
                       "messages[1].content[0].text", "must be a string"),
    "text_part_number": ([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": 123}]}],
                         {}, "messages[0].content[1].text", "must be a string"),
    "text_part_missing": ([{"role": "system", "content": [{"type": "text"}]}, user("x")], {},
                          "messages[0].content[0].text", "must be a string"),
}
OPENAI_ACCEPTED = {
    "both_calls_answered_any_order": ([user("x"), ASSISTANT_2, tool("c2", "12"), tool("c1", "3")], {}),
    "max_tokens_at_model_max": ([user("x")], {"max_tokens": 8192}),
    "n_without_stream": ([user("x")], {"n": 2}),
    "thinking_tool_turn_with_reasoning": ([user("x"), {**ASSISTANT_2, "reasoning_content": "r"}, tool("c1", "3"),
                                           tool("c2", "12")], {"thinking": {"type": "enabled"}}),
}


@pytest.mark.parametrize(("messages", "extra", "param", "fragment"), list(OPENAI_REJECTED.values()),
                         ids=list(OPENAI_REJECTED))
def test_openai_wire_rule_rejects(emu: EmulatorServer, messages: list[dict[str, Any]], extra: dict[str, Any],
                                  param: str, fragment: str) -> None:
    assert_openai_400(post(emu, {"model": "deepseek-chat", "messages": messages, **extra}), param, fragment)


@pytest.mark.parametrize(("messages", "extra"), list(OPENAI_ACCEPTED.values()), ids=list(OPENAI_ACCEPTED))
def test_openai_wire_rule_accepts(emu: EmulatorServer, messages: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    response = post(emu, {"model": "deepseek-chat", "messages": messages, "tools": [ADD, MUL], **extra})
    assert response.status_code == 200, response.text


def test_core_client_raises_bad_request_without_retrying(emu: EmulatorServer) -> None:
    sleeps: list[float] = []
    with A2AgentClient(base_url=emu.base_url, api_key=emu.api_key, _sleep=sleeps.append) as client, \
            pytest.raises(BadRequestError, match="did not have response messages") as info:
        client.chat_completions({"model": "deepseek-chat", "messages": [user("x"), ASSISTANT_2]})
    assert info.value.status_code == 400 and sleeps == []


@pytest.mark.parametrize("anthropic", [False, True], ids=["openai", "anthropic"])
def test_a_refused_text_part_leaves_the_connection_serving(emu: EmulatorServer, anthropic: bool) -> None:
    """A 400, not a crash: the same keep-alive connection answers the next request (a 500 from an
    exception made uvicorn drop it, and the client's next call failed with a connection reset)."""
    path = "/messages" if anthropic else "/chat/completions"
    bad = {"model": "glm-5", "max_tokens": 50, "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}
    with httpx.Client(base_url=emu.base_url, headers={"authorization": f"Bearer {emu.api_key}"}) as client:
        assert client.post(path, json=bad).status_code == 400
        assert client.post(path, json={**bad, "messages": [user("hi")]}).status_code == 200


def test_a_field_the_usage_counter_refuses_is_a_400(emu: EmulatorServer) -> None:
    """Usage is counted by the core's counter, which reads every field: what it refuses (a lone
    surrogate escaped in the JSON, a name that is not a string) answers 400, naming the field."""
    raw = '{"model": "glm-5", "messages": [{"role": "user", "content": "a\\ud800"}]}'
    response = httpx.post(emu.base_url + "/chat/completions", content=raw,
                          headers={"authorization": f"Bearer {emu.api_key}", "content-type": "application/json"})
    assert_openai_400(response, "messages[0].content", "messages[0].content cannot be encoded as UTF-8")
    named = post(emu, {"model": "glm-5", "messages": [{"role": "user", "content": "hi", "name": 5}]})
    assert_openai_400(named, "messages[0].name", "messages[0].name must be a string")


# -- rule 4: wire rules, Anthropic Messages format -------------------------------------------------

def a_use(*ids: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "tool_use", "id": i, "name": "add", "input": {"a": 1, "b": 2}}
                                             for i in ids]}


def a_result(*ids: str, text_first: bool = False) -> dict[str, Any]:
    blocks = [{"type": "tool_result", "tool_use_id": i, "content": "3"} for i in ids]
    text = [{"type": "text", "text": "here you go"}]
    return {"role": "user", "content": text + blocks if text_first else blocks + text}


ANTHROPIC_REJECTED = {
    "starts_with_assistant": ([{"role": "assistant", "content": "hi"}, user("x")], {}, "messages.0.role"),
    "two_user_turns_in_a_row": ([user("x"), user("y")], {}, "messages.1.role: roles must alternate"),
    "two_assistant_turns_in_a_row": ([user("x"), {"role": "assistant", "content": "a"},
                                      {"role": "assistant", "content": "b"}], {}, "messages.2.role"),
    "tool_result_for_unknown_id": ([user("x"), a_use("toolu_1"), a_result("toolu_1", "toolu_9")], {},
                                   "unexpected `tool_use_id` found in `tool_result` blocks: toolu_9"),
    "tool_result_for_an_older_turn": ([user("x"), a_use("toolu_1"), a_result("toolu_1"),
                                       {"role": "assistant", "content": "ok"}, a_result("toolu_1")], {},
                                      "messages.4.content.0: unexpected `tool_use_id`"),
    "tool_use_unanswered": ([user("x"), a_use("toolu_1", "toolu_2"), a_result("toolu_1")], {},
                            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
                            "toolu_2"),
    "tool_use_unanswered_at_end": ([user("x"), a_use("toolu_1")], {}, "messages.1: `tool_use` ids"),
    "text_before_tool_result": ([user("x"), a_use("toolu_1"), a_result("toolu_1", text_first=True)], {},
                                "messages.2.content.1: tool_result blocks must come first"),
    "text_block_null": ([{"role": "user", "content": [{"type": "text", "text": None}]}], {},
                        "messages.0.content.0.text: Input should be a valid string"),
    "text_block_number_in_assistant": ([user("x"), {"role": "assistant", "content": [{"type": "text", "text": 1}]},
                                        user("y")], {}, "messages.1.content.0.text: Input should be a valid string"),
    "text_block_null_in_tool_result": ([user("x"), a_use("toolu_1"), {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": None}]}]}], {},
                                       "messages.2.content.0.content.0.text: Input should be a valid string"),
    "system_block_number": ([user("x")], {"system": [{"type": "text", "text": 5}]},
                            "system.0.text: Input should be a valid string"),
    "max_tokens_missing": ([user("x")], {"max_tokens": None}, "max_tokens: Field required"),
    "max_tokens_over_model_max": ([user("x")], {"max_tokens": 8193}, "max_tokens"),
}


@pytest.mark.parametrize(("messages", "extra", "fragment"), list(ANTHROPIC_REJECTED.values()),
                         ids=list(ANTHROPIC_REJECTED))
def test_anthropic_wire_rule_rejects(emu: EmulatorServer, messages: list[dict[str, Any]], extra: dict[str, Any],
                                     fragment: str) -> None:
    body = {"model": "deepseek-chat", "max_tokens": 100, "messages": messages, "tools": [A_ADD], **extra}
    assert_anthropic_400(post(emu, {k: v for k, v in body.items() if v is not None}, anthropic=True), fragment)


def test_anthropic_wire_rule_accepts_a_paired_tool_turn(emu: EmulatorServer) -> None:
    body = {"model": "deepseek-chat", "max_tokens": 8192, "tools": [A_ADD],
            "messages": [user("x"), a_use("toolu_1", "toolu_2"), a_result("toolu_2", "toolu_1")]}
    response = post(emu, body, anthropic=True)
    assert response.status_code == 200, response.text
