"""Pure retry policy, shared by the sync and async transports (no I/O, no sleeping here).

What is retried, as the official OpenAI/Anthropic SDKs do: 408, 409, 429, every 5xx, connection
errors and timeouts. Not retried: other 4xx (400/401/402/403/404/422), a 429 that means an
exhausted balance or quota (``is_quota_exhausted``), and local errors (``InvalidInputError``). A
server's ``x-should-retry`` header overrides the status rule. Streams are never retried once an
event was delivered to the caller (the transport enforces that).

Delay before retry ``n`` (0-based), decided by ``retry_delay``:
- the server's wait (``retry-after-ms``, else ``retry-after`` in seconds or as an HTTP date) when it
  is positive and at most ``max_retry_after`` (120 s);
- longer than that: no retry; the error is raised at once with the wait as ``error.retry_after``,
  so a gateway that asked for minutes is not hammered;
- no hint, a hint of 0, or a date in the past (clock skew): the normal back-off,
  ``min(0.5 * 2**n, 8) * (1 - 0.25*U)``, so a retry never comes sooner than that.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import APIConnectionError, APIStatusError, is_quota_exhausted

__all__ = ["DEFAULT_MAX_RETRIES", "RetryPolicy"]

DEFAULT_MAX_RETRIES = 2
_RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 120.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    now: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def retry_delay(self, attempts: int, error: BaseException) -> float | None:
        """The one retry decision: seconds to wait after ``attempts`` failed attempts ending in
        ``error``, or None when ``error`` must be raised."""
        if attempts > self.max_retries:
            return None
        if isinstance(error, APIStatusError):
            if not self.should_retry_status(error.status_code, error.headers, error.body):
                return None
            return self.delay(attempts - 1, error.headers)
        if isinstance(error, APIConnectionError):
            return self.backoff(attempts - 1)
        return None

    def should_retry_status(self, status_code: int, headers: Mapping[str, str], body: Any) -> bool:
        hint = headers.get("x-should-retry")
        if hint == "true":
            return True
        if hint == "false":
            return False
        if status_code == 429:
            return not is_quota_exhausted(status_code, headers, body)
        return status_code in _RETRY_STATUSES or status_code >= 500

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds before retry number ``attempt`` (0 for the first), or None when the server asked
        for a longer wait than ``max_retry_after``."""
        wait = self.server_wait(headers) if headers else None
        if wait is None or wait <= 0:
            return self.backoff(attempt)
        return wait if wait <= self.max_retry_after else None

    def backoff(self, attempt: int) -> float:
        base = min(self.initial_delay * (2.0**attempt), self.max_delay)
        return base * (1.0 - self.jitter * self.random())

    def server_wait(self, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for, in seconds (0 for a date in the past), or None."""
        ms = _seconds(headers.get("retry-after-ms"))
        if ms is not None:
            return ms / 1000.0
        value = headers.get("retry-after")
        if value is None:
            return None
        seconds = _seconds(value)
        if seconds is not None:
            return seconds
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - self.now())


def _seconds(value: str | None) -> float | None:
    """A finite number from a header, else None (garbage, NaN and infinity are no hint)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
