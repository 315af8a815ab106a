"""The core's offline token counter, and the emulator's usage, which it computes.

What an adapter predicts offline must be what the (emulated) gateway reports, so the last tests
send a matrix of requests to the emulator over HTTP and compare its ``usage`` with the counter.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from a2agent import A2AgentClient, InvalidInputError, TokenCounter, token_counter
from a2agent._tokens import approximate_tokens, image_size, image_tokens
from a2agent.emulator import EmulatorServer

MEDIA = Path(__file__).parent / "media"


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


RED_PNG = data_url((MEDIA / "red.png").read_bytes())  # 8 x 8
GIF = data_url(b"GIF89a" + struct.pack("<HH", 640, 480) + bytes(10), "image/gif")
WEBP = data_url(b"RIFF" + bytes(4) + b"WEBPVP8X" + bytes(8) + (1023).to_bytes(3, "little")
                + (767).to_bytes(3, "little"), "image/webp")
JPEG = data_url(b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + bytes(14)
                + b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 300, 400) + bytes(10), "image/jpeg")

# The packages' own published examples (their READMEs), produced by the reference tokenizers.
SAMPLE = "Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ"  # noqa: RUF001
DEEPSEEK_IDS = [19923, 3, 223, 5464, 5008, 1175, 19, 940, 223, 19, 438, 223, 20, 6113, 257, 76589, 131, 100,
                76032, 1628, 76589, 131, 108, 76589, 131, 98]
QWEN36_IDS = [9419, 0, 220, 97169, 97621, 6115, 16, 478, 220, 16, 283, 220, 17, 9551, 254, 68933, 128, 97,
              91914, 28495, 68933, 128, 105, 68933, 128, 95]


@pytest.mark.parametrize(
    ("model", "family", "exact"),
    [("deepseek-chat", "deepseek", True), ("deepseek-v4-pro", "deepseek", True), ("qwen3.7-max", "qwen", True),
     ("qwen3.5-plus", "qwen", True), ("qwen-plus", "qwen", True), ("glm-5", "glm", False),
     ("minimax-m2.7", "minimax", False), ("kimi-k2.5", "generic", False), ("some-new-model", "generic", False)],
)
def test_each_model_id_maps_to_its_family_and_vocabulary(model: str, family: str, exact: bool) -> None:
    counter = token_counter(model)
    assert (counter.family, counter.exact) == (family, exact)
    assert ("vocabulary" in counter.description) is exact and model in repr(counter)
    assert token_counter(model) is counter  # cached


@pytest.mark.parametrize(("model", "ids"), [("deepseek-chat", DEEPSEEK_IDS), ("qwen3.6-plus", QWEN36_IDS)])
def test_exact_vocabularies_reproduce_the_reference_tokenizers(model: str, ids: list[int]) -> None:
    counter = token_counter(model)
    assert counter.encode(SAMPLE) == ids and counter.count_text(SAMPLE) == len(ids)
    assert counter.encode("") == [] and counter.count_text("") == 0


def test_qwen_before_3_5_uses_the_older_vocabulary() -> None:
    assert token_counter("qwen-plus").encode(SAMPLE) != token_counter("qwen3.6-plus").encode(SAMPLE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("abcd" * 10, 12), ("北京是首都", 3), ("naïve", 2), ("Привет", 3), ("a北", 1)],
    ids=["empty", "ascii", "cjk", "accent", "cyrillic", "mixed"],
)
def test_the_approximation_is_the_documented_rule(text: str, expected: int) -> None:
    assert approximate_tokens(text) == expected
    counter = token_counter("glm-5")
    assert counter.count_text(text) == expected and counter.encode(text) == [0] * expected


@pytest.mark.parametrize("vocabulary", ["approximate"], indirect=True)
def test_without_the_extra_exact_families_fall_back_to_the_approximation_and_say_so(
        vocabulary: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="a2agent"):
        counter = token_counter("deepseek-chat")
        token_counter("deepseek-v4-flash")
    assert not counter.exact and counter.count_text(SAMPLE) == approximate_tokens(SAMPLE)
    assert "approximation" in counter.description
    said = [r.getMessage() for r in caplog.records if "approximately" in r.getMessage()]
    assert len(said) == 1 and "a2agent[tokenizers]" in said[0]  # once per vocabulary


@pytest.mark.parametrize("model", ["", None, 3])
def test_a_bad_model_id_is_invalid_input(model: Any) -> None:
    with pytest.raises(InvalidInputError, match="model"):
        token_counter(model)


@pytest.mark.parametrize(
    ("url", "size"),
    [(RED_PNG, (8, 8)), (GIF, (640, 480)), (WEBP, (1024, 768)), (JPEG, (400, 300)),
     ("data:image/png;base64,iVBORw0KGgo=", None), ("https://example.test/cat.png", None),
     ("data:image/png;base64,!!!", None), ("data:text/plain,hello", None)],
    ids=["png", "gif", "webp", "jpeg", "truncated", "remote", "garbage", "not_base64"],
)
def test_image_sizes_are_read_from_data_url_headers(url: str, size: tuple[int, int] | None) -> None:
    assert image_size(url) == size


@pytest.mark.parametrize(
    ("size", "grid", "most", "expected"),
    [((8, 8), 32, 2560, 4 + 2), ((1024, 1024), 32, 2560, 32 * 32 + 2), ((1024, 768), 28, 16384, 37 * 27 + 2),
     ((8000, 8000), 32, 2560, 50 * 50 + 2), (None, 32, 2560, 16 * 16 + 2)],
    ids=["at_least_4", "grid", "rounded", "capped", "unknown_is_512"],
)
def test_images_count_patches_of_the_resized_image(size: Any, grid: int, most: int, expected: int) -> None:
    assert image_tokens(size, grid, most) == expected


def _counted_by_hand(counter: TokenCounter, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    f, text = counter.framing, counter.count_text
    total = f.priming + f.tools + len(messages) * f.per_message
    total += sum(text(m["content"]) for m in messages if isinstance(m.get("content"), str))
    total += sum(f.per_tool + text(json.dumps(t["function"], ensure_ascii=False)) for t in tools)
    for m in messages:
        for call in m.get("tool_calls") or []:
            total += f.per_tool_call + text(call["function"]["name"]) + text(call["function"]["arguments"])
    return total + sum(f.per_tool_result for m in messages if m["role"] == "tool")


ADD = {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}
MUL = {"type": "function", "function": {"name": "multiply", "description": "Multiply two integers.", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
TOOL_TURN = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Please add 2 and 3"},
             {"role": "assistant", "content": None, "tool_calls": [CALL]},
             {"role": "tool", "tool_call_id": "call_1", "content": "5"}]


@pytest.mark.parametrize("model", ["deepseek-chat", "qwen3.6-plus", "glm-5", "kimi-k2.5"])
def test_a_request_is_its_text_plus_the_family_framing(model: str) -> None:
    counter = token_counter(model)
    assert counter.count_request({"messages": TOOL_TURN, "tools": [ADD, MUL]}) == \
        _counted_by_hand(counter, TOOL_TURN, [ADD, MUL])
    compact = {**CALL, "function": {**CALL["function"], "arguments": '{"a":2,"b":3}'}}
    assert counter.count_message({**TOOL_TURN[2], "tool_calls": [compact]}) == counter.count_message(TOOL_TURN[2])


def test_a_template_default_system_prompt_counts_only_without_one() -> None:
    counter = token_counter("minimax-m2.7")
    user = {"role": "user", "content": "hi"}
    alone = counter.count_messages([user])
    assert alone == counter.framing.priming + counter.count_message(user) + counter.framing.default_system
    assert counter.count_messages([{"role": "system", "content": ""}, user]) < alone


def test_images_count_by_their_size_text_parts_as_text() -> None:
    counter = token_counter("qwen3.6-plus")
    parts = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": GIF}},
             {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
    message = {"role": "user", "content": parts}
    assert counter.count_message(message) == counter.framing.per_message + counter.count_text("what is this?") \
        + image_tokens((640, 480), 32, 2560)


# -- the emulator reports what the counter predicts ------------------------------------------------

IMAGE_TURN = [{"role": "user", "content": [{"type": "text", "text": "What is in these pictures?"},
                                           {"type": "image_url", "image_url": {"url": RED_PNG}},
                                           {"type": "image_url", "image_url": {"url": JPEG}}]}]
REQUESTS: dict[str, dict[str, Any]] = {
    "text": {"messages": [{"role": "user", "content": "What is the capital of France?"}]},
    "system_multi_turn": {"messages": [
        {"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "hi, I am Ann"},
        {"role": "assistant", "content": "Hello Ann!"}, {"role": "user", "content": "北京是哪个国家的首都?"}]},
    "tools": {"messages": TOOL_TURN[:2], "tools": [ADD, MUL]},
    "tool_turn": {"messages": TOOL_TURN, "tools": [ADD, MUL]},
    # What the Messages format merges, moves or drops: counted as it is carried (api_format)
    "two_systems": {"messages": [{"role": "system", "content": "Answer briefly."},
                                 {"role": "system", "content": "Answer in French."},
                                 {"role": "user", "content": "What is the capital of France?"}]},
    "two_users_named": {"messages": [{"role": "user", "content": "Hi, I am Ann.", "name": "ann"},
                                     {"role": "user", "content": "What is the capital of France?"}]},
    "system_late_two_assistants": {"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "assistant", "content": "How can I help?"}, {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"}]},
    "empty_system": {"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "hi"}]},
    "tool_result_parts_then_user": {"messages": [
        *TOOL_TURN[:3], {"role": "tool", "tool_call_id": "call_1",
                         "content": [{"type": "text", "text": "5"}, {"type": "text", "text": " (exact)"}]},
        {"role": "user", "content": "Thanks. Now add 4 and 4"}], "tools": [ADD, MUL]},
    "tool_without_parameters": {"messages": TOOL_TURN[1:2], "tools": [
        ADD, {"type": "function", "function": {"name": "now", "description": "The time."}}]},
}
MODELS = ["deepseek-chat", "qwen3.6-plus", "glm-5", "minimax-m2.7", "kimi-k2.5"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("api_format", ["openai", "anthropic"])
def test_emulator_usage_is_what_the_counter_predicts(vocabulary: str, model: str, api_format: str,
                                                     a2agent_emulator: EmulatorServer) -> None:
    counter = token_counter(model)
    assert counter.exact is (vocabulary == "exact" and model.startswith(("deepseek", "qwen")))
    requests = dict(REQUESTS)
    if model in ("qwen3.6-plus", "kimi-k2.5"):  # the vision models
        requests["images"] = {"messages": IMAGE_TURN}
    with A2AgentClient(base_url=a2agent_emulator.base_url, api_key=a2agent_emulator.api_key,
                       api_format=api_format) as client:
        for name, request in requests.items():
            payload = {"model": model, "max_tokens": 300, "thinking": {"type": "disabled"}, **request}
            out = client.chat_completions(payload)
            usage, message = out["usage"], out["choices"][0]["message"]
            assert usage["prompt_tokens"] == counter.count_request(payload, api_format=api_format), name
            assert usage["completion_tokens"] == counter.count_completion(message) > 0, name


def test_max_tokens_cuts_the_answer_at_whole_words_within_the_limit(a2agent_emulator: EmulatorServer) -> None:
    with A2AgentClient(base_url=a2agent_emulator.base_url, api_key=a2agent_emulator.api_key) as client:
        full = client.chat_completions({"model": "deepseek-chat", "messages": REQUESTS["text"]["messages"]})
        cut = client.chat_completions({"model": "deepseek-chat", "messages": REQUESTS["text"]["messages"],
                                       "max_tokens": 4})
    text, counter = cut["choices"][0]["message"]["content"], token_counter("deepseek-chat")
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] <= 4
    assert full["choices"][0]["message"]["content"].startswith(text) and 0 < counter.count_text(text) <= 4
    assert math.isclose(cut["usage"]["completion_tokens"], counter.count_text(text))


@pytest.mark.parametrize("model", MODELS)
def test_the_messages_format_counts_what_it_carries(model: str) -> None:
    """Merged system prompts and turns frame fewer messages; a dropped ``name`` is not billed."""
    counter = token_counter(model)
    for name in ("two_systems", "two_users_named", "system_late_two_assistants"):
        payload = REQUESTS[name]
        assert counter.count_request(payload, api_format="anthropic") < counter.count_request(payload), name
    with pytest.raises(InvalidInputError, match="api_format"):
        counter.count_request(REQUESTS["text"], api_format="gemini")


# -- bad input: InvalidInputError naming what is wrong, the same with or without the extra ---------

BAD_TEXT = {"int": (123, "text must be a string, got int"), "bytes": (b"hi", "text must be a string, got bytes"),
            "none": (None, "text must be a string, got None"),
            "lone_surrogate": ("a\ud800", "text cannot be encoded as UTF-8")}


@pytest.mark.parametrize("model", ["deepseek-chat", "qwen3.6-plus", "glm-5"])
@pytest.mark.parametrize("name", list(BAD_TEXT))
def test_bad_text_is_invalid_input(vocabulary: str, model: str, name: str) -> None:
    value, message = BAD_TEXT[name]
    counter = token_counter(model)
    for method in (counter.count_text, counter.encode):
        with pytest.raises(InvalidInputError, match=re.escape(message)):
            method(value)


USER = {"role": "user", "content": "hi"}


def _assistant_calling(arguments: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}]}


BAD_REQUESTS: dict[str, tuple[Any, str]] = {
    "payload_none": (None, "payload must be a mapping (a chat request), got None"),
    "messages_str": ({"messages": "hi"}, "messages must be a list of message dicts, got str"),
    "message_none": ({"messages": [None]}, "messages[0] must be a dict, got None"),
    "bad_role": ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role must be one of"),
    "content_int": ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content must be a string"),
    "part_str": ({"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0] must be a dict"),
    "text_int": ({"messages": [USER, {"role": "user", "content": [{"type": "text", "text": 123}]}]},
                 "messages[1].content[0].text must be a string, got int"),
    "text_none": ({"messages": [USER, {"role": "user", "content": [{"type": "text", "text": None}]}]},
                  "messages[1].content[0].text must be a string, got None"),
    "text_lone_surrogate": ({"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
                            "messages[0].content[0].text cannot be encoded as UTF-8"),
    "content_lone_surrogate": ({"messages": [{"role": "user", "content": "a\ud800b"}]},
                               "messages[0].content cannot be encoded as UTF-8"),
    "name_int": ({"messages": [{**USER, "name": 5}]}, "messages[0].name must be a string, got int"),
    "reasoning_int": ({"messages": [USER, {"role": "assistant", "content": "x", "reasoning_content": 1}]},
                      "messages[1].reasoning_content must be a string"),
    "image_url_str": ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "http://x"}]}]},
                      "messages[0].content[0].image_url must be a dict with a string url"),
    "tool_calls_dict": ({"messages": [{"role": "assistant", "content": None, "tool_calls": {"id": "c"}}]},
                        "messages[0].tool_calls must be a list"),
    "tool_call_no_function": ({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}]},
                              "messages[0].tool_calls[0] must be a dict with a 'function' dict"),
    "arguments_not_json": ({"messages": [_assistant_calling({"a": object()})]},
                           "messages[0].tool_calls[0].function.arguments['a'] is not JSON-serializable"),
    "tools_str": ({"messages": [USER], "tools": "add"}, "tools must be a list of tool dicts, got str"),
    "tool_int": ({"messages": [], "tools": [1]}, "tools[0] must be a dict (a tool schema), got int"),
    "tool_not_json": ({"messages": [USER], "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "default": object()}}}]},
                      "tools[0]['function']['parameters']['default'] is not JSON-serializable"),
}


@pytest.mark.parametrize("api_format", ["openai", "anthropic"])
@pytest.mark.parametrize("model", ["deepseek-chat", "glm-5"])
@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_a_bad_request_is_invalid_input_naming_the_path(vocabulary: str, model: str, api_format: str,
                                                        name: str) -> None:
    payload, message = BAD_REQUESTS[name]
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        token_counter(model).count_request(payload, api_format=api_format)


def test_single_messages_and_completions_are_checked_too() -> None:
    counter = token_counter("glm-5")
    with pytest.raises(InvalidInputError, match=re.escape("message must be a dict, got None")):
        counter.count_message(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=re.escape("message must be a dict, got None")):
        counter.count_completion(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=re.escape("message.content[0].text must be a string, got int")):
        counter.count_message({"role": "user", "content": [{"type": "text", "text": 1}]})
    with pytest.raises(InvalidInputError, match=re.escape("message.reasoning_content must be a string")):
        counter.count_completion({"content": "ok", "reasoning_content": 2})


def test_empty_and_iterable_inputs_still_count() -> None:
    counter = token_counter("glm-5")
    messages = REQUESTS["system_multi_turn"]["messages"]
    assert counter.count_text("") == 0 and counter.encode("") == []
    assert counter.count_messages(iter(messages), iter([ADD])) == counter.count_messages(messages, [ADD])
    assert counter.count_request({"messages": []}) == counter.framing.priming
