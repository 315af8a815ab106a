"""The emulator's schema instance generator: every instance must validate against its schema."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from a2agent.emulator._schema import generate_instance


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18, le=99)
    score: float
    active: bool
    color: Color
    kind: Literal["a", "b"]
    nickname: str | None = None
    address: Address
    previous: list[Address] = Field(min_length=2)
    born: dt.date
    tags: list[str]


class Tree(BaseModel):
    value: int
    children: list[Tree] = []


@pytest.mark.parametrize("model", [Person, Address, Tree], ids=lambda m: m.__name__)
def test_instances_validate(model: type[BaseModel]) -> None:
    instance = generate_instance(model.model_json_schema())
    model.model_validate(instance)


def test_numbers_feed_in_order_and_respect_bounds() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "number", "maximum": 10}}}
    assert generate_instance(schema, [3, 40]) == {"a": 3, "b": 10.0}


def test_text_feeds_strings() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    assert generate_instance(schema, text="Paris") == {"q": "Paris"}
