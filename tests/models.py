"""Schemas the structured-output tests of both adapters share."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Address(BaseModel):
    street: str
    zip: str | None = None


class Person(BaseModel):
    """A person."""

    name: str
    age: int
    nickname: str | None = None
    homes: list[Address] = Field(default_factory=list)
