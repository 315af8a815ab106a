"""Emulator configuration and mutable state: keys, rate windows, the script queue, the request log.

The server runs in its own thread (or process); tests mutate the state from theirs, so every
mutation takes the lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_API_KEY = "sk-a2agent-emulator"
SUSPENDED_KEY = "sk-a2agent-suspended"
NO_BALANCE_KEY = "sk-a2agent-no-balance"


@dataclass
class EmulatorConfig:
    """``api_keys`` maps key -> "active" | "suspended" (403) | "no_balance" (429, not retryable).

    ``rate_limit`` is ``(requests, per_seconds)`` per key over a sliding window; over it the
    emulator answers 429 with ``retry-after``/``retry-after-ms``. ``chunk_delay`` spaces stream
    chunks (seconds). ``accept_any_key`` lets any non-empty key in (notebooks, demos).
    """

    api_keys: dict[str, str] = field(default_factory=lambda: {
        DEFAULT_API_KEY: "active", SUSPENDED_KEY: "suspended", NO_BALANCE_KEY: "no_balance"})
    accept_any_key: bool = False
    rate_limit: tuple[int, float] | None = None
    chunk_delay: float = 0.0
    keepalive_comment: bool = True


class EmulatorState:
    """``clock`` (seconds, monotonic) times the rate windows: tests swap in a manual clock so a
    window expires when they say so, not when a busy machine lets it."""

    def __init__(self, config: EmulatorConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock
        self._lock = threading.Lock()
        self._script: deque[dict[str, Any]] = deque()
        self._windows: dict[str, deque[float]] = {}
        self._prefixes: set[tuple[str, int]] = set()
        self.requests: list[dict[str, Any]] = []
        # Under a rate limit: every arrival at the gate as (clock time, admitted), and the 429 count.
        self.arrivals: list[tuple[float, bool]] = []
        self.throttled = 0

    # -- script ----------------------------------------------------------------------------------
    def script(self, *entries: dict[str, Any]) -> None:
        """Queue replies or faults, consumed one per chat request (``times`` repeats an entry).

        Entry keys: ``content``, ``reasoning``, ``tool_calls`` [{name, arguments, id?}],
        ``finish_reason`` (a scripted reply); ``status`` + ``body`` + ``headers`` (an error answer);
        ``delay`` (seconds before answering); ``disconnect_after`` (drop the connection after that
        many stream chunks, or before the body when not streaming); ``stream_error_after`` +
        ``error`` (send ``data: {"error": ...}`` after that many chunks); ``times``.
        """
        with self._lock:
            for entry in entries:
                for _ in range(int(entry.get("times", 1))):
                    self._script.append(dict(entry))

    def next_entry(self) -> dict[str, Any]:
        with self._lock:
            return self._script.popleft() if self._script else {}

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._windows.clear()
            self._prefixes.clear()
            self.requests.clear()
            self.arrivals.clear()
            self.throttled = 0

    def record(self, path: str, body: Any, headers: dict[str, str], client_port: int | None = None) -> None:
        safe = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-api-key")}
        with self._lock:
            self.requests.append({"path": path, "body": body, "headers": safe, "client_port": client_port})

    # -- auth and limits -------------------------------------------------------------------------
    def key_status(self, key: str | None) -> str:
        if not key:
            return "missing"
        status = self.config.api_keys.get(key)
        if status is None:
            return "active" if self.config.accept_any_key else "invalid"
        return status

    def take_rate_slot(self, key: str) -> float | None:
        """Record a request; return seconds until a slot frees when the key is over its limit.
        Arrivals are logged (``arrivals``, ``throttled``) so rates can be measured server-side."""
        limit = self.config.rate_limit
        if limit is None:
            return None
        count, period = limit
        now = self.clock()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and now - window[0] >= period:
                window.popleft()
            if len(window) >= count:
                self.arrivals.append((now, False))
                self.throttled += 1
                return period - (now - window[0])
            window.append(now)
            self.arrivals.append((now, True))
            return None

    def cached_prefix_tokens(self, key: str, prefix: str, tokens: int) -> int:
        """Tokens of a repeated leading message (a prompt-cache hit), 0 the first time."""
        marker = (key, hash(prefix))
        with self._lock:
            if marker in self._prefixes:
                return tokens
            self._prefixes.add(marker)
            return 0
