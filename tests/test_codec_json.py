"""``loads_event`` gives what ``json.loads`` gives (value or ``ValueError``), on every path it takes:
orjson when installed, else the C scanner, with ``json.loads`` behind both for what they refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from a2agent import _codec

CASES = ['{"a":1}', ' {"a":1}', '{"a":1} ', '{"a":1}\n', '[1,2]', '"x"', "1.5", "true", "null", '{"a":1,"a":2}',
         "NaN", "-Infinity", '{"x":1e400}', '"\\ud800"', '{"t":"caf\\u00e9 \\u4e2d"}', '{"a":-0.0}',
         '{"a":1}x', "", "{", "nul", '{"a":}', "[1,]", "   "]


@pytest.fixture(params=["orjson", "scanner"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "orjson":
        import orjson  # in the dev environment through langchain-core -> langsmith

        monkeypatch.setattr(_codec, "_orjson_loads", orjson.loads)
    else:
        monkeypatch.setattr(_codec, "_orjson_loads", None)
    return str(request.param)


def outcome(fn: Any, text: str) -> Any:
    try:
        value = fn(text)
    except ValueError as exc:
        return type(exc)
    return json.dumps(value)  # NaN != NaN: compare the serialised value


@pytest.mark.parametrize("text", CASES)
def test_same_value_or_same_error_as_json_loads(text: str, path: str) -> None:
    assert outcome(_codec.loads_event, text) == outcome(json.loads, text)


def test_integers_past_64_bits_are_the_one_difference(path: str) -> None:
    big = "123456789012345678901234567890"
    expected: Any = float(big) if path == "orjson" else int(big)
    assert _codec.loads_event(big) == expected and type(_codec.loads_event(big)) is type(expected)
