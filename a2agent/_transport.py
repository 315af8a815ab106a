"""The HTTP boundary: the only module that imports httpx.

Builds clients, headers and timeouts, maps httpx exceptions onto the a2agent error tree, and runs
requests under the retry policy. The sync and async transports are twins: everything that is not
I/O (URL, headers, body encoding, error decoding, retry decisions) is a shared pure function, and
each wrapper is the few lines of I/O around it.

httpx itself is imported on first use, not at import time: ``httpx/__init__`` also loads its
command line (click, rich, pygments) whenever those are installed, ~180 ms that an
``import langchain_a2agent`` should not pay.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Union

from . import __version__
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidInputError,
    make_status_error,
    scrub_secret,
)
from ._retry import RetryPolicy
from ._sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncTransport", "SyncTransport", "TransportConfig"]

log = logging.getLogger("a2agent")

DEFAULT_BASE_URL = "https://api.a2agent.me/v1"
DEFAULT_TIMEOUT = 600.0  # seconds to read; connecting gets at most 10 s
_CONNECT_TIMEOUT = 10.0
Timeout = Union[float, "httpx.Timeout", None]  # a string forward reference needs Union
_USER_AGENT = f"a2agent-python/{__version__}"
_CLIENT_LOCK = threading.Lock()


class TransportConfig:
    """Resolved, validated connection settings. ``repr`` never shows the key."""

    __slots__ = ("_api_key", "_wire_headers", "base_url", "default_headers", "default_httpx_timeout", "policy",
                 "timeout")

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | object = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("A2AGENT_API_KEY")
        if not key or not isinstance(key, str):
            raise InvalidInputError(
                "No A2Agent API key: pass api_key=... or set the A2AGENT_API_KEY environment variable."
            )
        self._api_key = key
        self.base_url = _normalize_base_url(base_url or os.environ.get("A2AGENT_BASE_URL") or DEFAULT_BASE_URL)
        self.timeout = _to_timeout(timeout)
        self.default_httpx_timeout: Any = None
        policy = policy or RetryPolicy()
        if max_retries is not None:
            if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
                raise InvalidInputError(f"max_retries must be a non-negative int, got {max_retries!r}")
            policy = dataclasses.replace(policy, max_retries=max_retries)
        self.policy = policy
        self.default_headers = dict(default_headers or {})
        self._wire_headers: dict[str, str] | None = None

    @property
    def api_key(self) -> str:
        return self._api_key

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            **self.default_headers,
        }
        if extra:
            headers.update(extra)
        return headers

    def wire_headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every header our own pool sends (what httpx.Client would add included), built once."""
        if self._wire_headers is None:
            self._wire_headers = {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive", **self.headers()}
        return {**self._wire_headers, **extra} if extra else self._wire_headers

    def __repr__(self) -> str:
        return f"TransportConfig(base_url={self.base_url!r}, max_retries={self.policy.max_retries}, api_key='***')"


def _normalize_base_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInputError(f"base_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _to_timeout(timeout: Timeout | object) -> Any:
    """Validate a timeout without importing httpx: seconds, or an ``httpx.Timeout`` passed through."""
    if timeout is None:
        return float(DEFAULT_TIMEOUT)
    if type(timeout).__name__ == "Timeout" and type(timeout).__module__.startswith("httpx"):
        return timeout
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    raise InvalidInputError(f"timeout must be a positive number of seconds or httpx.Timeout, got {timeout!r}")


def _httpx_timeout(timeout: Any) -> httpx.Timeout:
    import httpx

    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout, connect=min(_CONNECT_TIMEOUT, timeout))


def encode_json(payload: Any) -> bytes:
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Request payload is not JSON-serializable: {exc}") from exc


def _decode_body(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")


@contextlib.contextmanager
def map_transport_errors(method: str, url: str, secret: str) -> Iterator[None]:
    """Translate httpx failures to ``APIConnectionError``/``APITimeoutError`` (key scrubbed)."""
    import httpx  # already loaded: a client exists by the time a request runs

    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(scrub_secret(f"Request timed out: {exc!r}", secret), method=method, url=url) from None
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise APIConnectionError(
            scrub_secret(f"Connection error: {type(exc).__name__}: {exc}", secret), method=method, url=url
        ) from None


def _status_error(config: TransportConfig, response: httpx.Response) -> APIStatusError:
    return make_status_error(response.status_code, _decode_body(response.content),
                             headers=dict(response.headers), secret=config.api_key)


def _retry_delay(config: TransportConfig, attempt: int, error: Exception) -> float | None:
    """Seconds to wait before retrying after ``error``, or None when it must be raised."""
    if attempt >= config.policy.max_retries:
        return None
    if isinstance(error, APIStatusError):
        if not config.policy.should_retry_status(error.status_code, error.headers, error.body):
            return None
        delay = config.policy.delay(attempt, error.headers)
    elif isinstance(error, APIConnectionError):
        delay = config.policy.delay(attempt)
    else:
        return None
    log.info("a2agent: retrying in %.2fs after %s (retry %d of %d)", delay, type(error).__name__,
             attempt + 1, config.policy.max_retries)
    return delay


def _request_timeout(config: TransportConfig, timeout: Timeout | object) -> httpx.Timeout:
    if timeout is None:  # the common case, converted once per config
        if config.default_httpx_timeout is None:
            config.default_httpx_timeout = _httpx_timeout(config.timeout)
        cached: httpx.Timeout = config.default_httpx_timeout
        return cached
    return _httpx_timeout(_to_timeout(timeout))


def _limits() -> httpx.Limits:
    import httpx

    return httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30.0)


def _owned_pool(config: TransportConfig, asynchronous: bool) -> Any:
    """Our own connection pool: httpx's public transport layer, used directly.

    ``httpx.Client`` adds auth flows, redirects, cookies and event hooks around its transport, none
    of which an owned client uses, for ~70 us a call (a quarter of a loopback round trip). What it
    would have given us is kept: proxy environment variables (``HTTPS_PROXY``, ``NO_PROXY``, ...)
    via the standard library, and SSL/timeout settings via the transport itself.
    """
    import urllib.request
    from urllib.parse import urlsplit

    import httpx

    parts = urlsplit(config.base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
        proxy = None
    cls = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
    return cls(limits=_limits(), proxy=proxy)


def _build_request(config: TransportConfig, client: httpx.Client | httpx.AsyncClient | None, method: str,
                   path: str, payload: Any, timeout: Timeout | object, extra: Mapping[str, str] | None,
                   stream: bool = False) -> httpx.Request:
    """The request both transports send: through an injected client's ``build_request`` (its
    defaults, auth and mounts apply) or as a plain ``httpx.Request`` for our own pool."""
    if stream:
        extra = {"Accept": "text/event-stream", **(extra or {})}
    content = encode_json(payload) if payload is not None else None
    url = config.base_url + path
    request_timeout = _request_timeout(config, timeout)
    if client is not None:
        return client.build_request(method, url, content=content, headers=config.headers(extra),
                                    timeout=request_timeout)
    import httpx

    return httpx.Request(method, url, content=content, headers=config.wire_headers(extra),
                         extensions={"timeout": request_timeout.as_dict()})


class SyncTransport:
    def __init__(self, config: TransportConfig, http_client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._client = http_client  # injected: used as is, never closed by us
        self._pool: Any = None  # owned httpx.HTTPTransport, built on first use (it builds an SSL context)
        self._sleep = sleep

    def _send(self, request: httpx.Request, stream: bool) -> httpx.Response:
        if self._client is not None:
            return self._client.send(request, stream=stream)
        if self._pool is None:
            with _CLIENT_LOCK:
                if self._pool is None:
                    self._pool = _owned_pool(self.config, asynchronous=False)
        response: httpx.Response = self._pool.handle_request(request)
        response.request = request
        if not stream:
            try:
                response.read()
            finally:
                response.close()
        return response

    def request(self, method: str, path: str, payload: Any = None, *, timeout: Timeout | object = None,
                headers: Mapping[str, str] | None = None) -> Any:
        request = _build_request(self.config, self._client, method, path, payload, timeout, headers)
        url = self.config.base_url + path  # for error messages only
        attempt = 0
        while True:
            try:
                with map_transport_errors(method, url, self.config.api_key):
                    response = self._send(request, stream=False)
                if response.status_code < 400:
                    return _decode_body(response.content)
                raise _status_error(self.config, response)
            except (APIStatusError, APIConnectionError) as exc:
                delay = _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                self._sleep(delay)
                attempt += 1

    def stream(self, path: str, payload: Any, *, timeout: Timeout | object = None,
               headers: Mapping[str, str] | None = None) -> Iterator[ServerSentEvent]:
        """Yield SSE events; retried like ``request`` until the first event has been yielded."""
        request = _build_request(self.config, self._client, "POST", path, payload, timeout, headers, stream=True)
        url = self.config.base_url + path  # for error messages only
        attempt = 0
        while True:
            delivered = False
            try:
                with map_transport_errors("POST", url, self.config.api_key):
                    response = self._send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        with map_transport_errors("POST", url, self.config.api_key):
                            response.read()
                        raise _status_error(self.config, response)
                    decoder = SSEDecoder()
                    with map_transport_errors("POST", url, self.config.api_key):
                        for chunk in response.iter_bytes():
                            for event in decoder.feed(chunk):
                                delivered = True
                                yield event
                    yield from decoder.flush()
                    return
                finally:
                    response.close()
            except (APIStatusError, APIConnectionError) as exc:
                delay = None if delivered else _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                self._sleep(delay)
                attempt += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class AsyncTransport:
    def __init__(self, config: TransportConfig, http_client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.config = config
        self._client = http_client
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleep = sleep

    async def _send(self, request: httpx.Request, stream: bool) -> httpx.Response:
        if self._client is not None:
            return await self._client.send(request, stream=stream)
        # A pool's connections belong to the event loop they were opened on; a model reused across
        # asyncio.run() calls (scripts, notebooks) gets a fresh pool per loop.
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            self._pool = _owned_pool(self.config, asynchronous=True)
            self._loop = loop
        response: httpx.Response = await self._pool.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def request(self, method: str, path: str, payload: Any = None, *, timeout: Timeout | object = None,
                      headers: Mapping[str, str] | None = None) -> Any:
        request = _build_request(self.config, self._client, method, path, payload, timeout, headers)
        url = self.config.base_url + path  # for error messages only
        attempt = 0
        while True:
            try:
                with map_transport_errors(method, url, self.config.api_key):
                    response = await self._send(request, stream=False)
                if response.status_code < 400:
                    return _decode_body(response.content)
                raise _status_error(self.config, response)
            except (APIStatusError, APIConnectionError) as exc:
                delay = _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                await self._sleep(delay)
                attempt += 1

    async def stream(self, path: str, payload: Any, *, timeout: Timeout | object = None,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[ServerSentEvent]:
        request = _build_request(self.config, self._client, "POST", path, payload, timeout, headers, stream=True)
        url = self.config.base_url + path  # for error messages only
        attempt = 0
        while True:
            delivered = False
            try:
                with map_transport_errors("POST", url, self.config.api_key):
                    response = await self._send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        with map_transport_errors("POST", url, self.config.api_key):
                            await response.aread()
                        raise _status_error(self.config, response)
                    decoder = SSEDecoder()
                    with map_transport_errors("POST", url, self.config.api_key):
                        async for chunk in response.aiter_bytes():
                            for event in decoder.feed(chunk):
                                delivered = True
                                yield event
                    for event in decoder.flush():
                        yield event
                    return
                finally:
                    await response.aclose()
            except (APIStatusError, APIConnectionError) as exc:
                delay = None if delivered else _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                await self._sleep(delay)
                attempt += 1

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
