"""Pure retry policy, shared by the sync and async transports (no I/O, no sleeping here).

What is retried, as the official OpenAI/Anthropic SDKs do: 408, 409, 429, every 5xx, connection
errors and timeouts. Not retried: other 4xx (400/401/403/404/422), and 429s whose body says the
balance or quota is exhausted (GLM/DeepSeek send those; waiting cannot fix them). A server's
``x-should-retry`` header overrides the status rule. Streams are never retried once an event was
delivered to the caller (the transport enforces that).

Delay before retry ``n`` (0-based): ``retry-after-ms``, else ``retry-after`` (seconds or an HTTP
date), when positive and at most ``max_retry_after``; else ``min(0.5 * 2**n, 8) * (1 - 0.25*U)``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import is_quota_body

__all__ = ["DEFAULT_MAX_RETRIES", "RetryPolicy"]

DEFAULT_MAX_RETRIES = 2
_RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    now: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def should_retry_status(self, status_code: int, headers: Mapping[str, str], body: Any) -> bool:
        hint = headers.get("x-should-retry")
        if hint == "true":
            return True
        if hint == "false":
            return False
        if status_code == 429:
            return not is_quota_body(body)
        return status_code in _RETRY_STATUSES or status_code >= 500

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
        server = self._server_delay(headers) if headers else None
        if server is not None:
            return server
        base = min(self.initial_delay * (2.0**attempt), self.max_delay)
        return base * (1.0 - self.jitter * self.random())

    def _server_delay(self, headers: Mapping[str, str]) -> float | None:
        seconds: float | None = None
        ms = headers.get("retry-after-ms")
        if ms is not None:
            try:
                seconds = float(ms) / 1000.0
            except ValueError:
                seconds = None
        if seconds is None:
            value = headers.get("retry-after")
            if value is not None:
                seconds = _parse_retry_after(value, self.now)
        if seconds is not None and 0 <= seconds <= self.max_retry_after:
            return seconds
        return None


def _parse_retry_after(value: str, now: Callable[[], float]) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - now())
