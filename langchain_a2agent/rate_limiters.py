"""``A2AgentRateLimiter``: LangChain's rate-limiter hook over a2agent's per-key limiter.

``ChatA2Agent`` is limited already (the core limits every call, per key); this is for the other
models of a program that reach the same gateway key, e.g. a ``ChatOpenAI`` pointed at A2Agent::

    limiter = A2AgentRateLimiter(api_key=key, base_url=url)
    ChatOpenAI(base_url=url, api_key=key, rate_limiter=limiter)

Each call then waits its turn in the same queue, pause and pace as every a2agent client of that
key (it learns nothing from that model's 429s, which LangChain does not report to rate limiters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.rate_limiters import BaseRateLimiter

from a2agent import LimiterSettings, LimiterStats
from a2agent.integration import KeyLimiter, shared_limiter

__all__ = ["A2AgentRateLimiter"]


class A2AgentRateLimiter(BaseRateLimiter):
    """Waits for the key's turn: its shared pause after a 429, its learned pace, its FIFO queue."""

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 settings: LimiterSettings | Mapping[str, Any] | None = None) -> None:
        self._limiter: KeyLimiter = shared_limiter(api_key, base_url, settings)

    def acquire(self, *, blocking: bool = True) -> bool:
        return self._limiter.pace(blocking)

    async def aacquire(self, *, blocking: bool = True) -> bool:
        return await self._limiter.apace(blocking)

    def stats(self) -> LimiterStats:
        return self._limiter.stats()

    def __repr__(self) -> str:
        return f"A2AgentRateLimiter(key={self._limiter.label!r})"
