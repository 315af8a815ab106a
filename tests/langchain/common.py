"""Helpers the LangChain tests share."""

from __future__ import annotations

from typing import Any


async def call(llm: Any, mode: str, messages: Any) -> Any:
    """invoke / ainvoke / stream / astream, aggregated to one message."""
    if mode == "invoke":
        return llm.invoke(messages)
    if mode == "ainvoke":
        return await llm.ainvoke(messages)
    full = None
    if mode == "stream":
        for chunk in llm.stream(messages):
            full = chunk if full is None else full + chunk
    else:
        async for chunk in llm.astream(messages):
            full = chunk if full is None else full + chunk
    return full
