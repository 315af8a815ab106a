"""The HTTP boundary: the only module that imports httpx.

Builds requests (one path, one header source, for our own pool and for an injected client alike),
maps httpx exceptions onto the a2agent error tree, and runs requests under the retry policy. The
sync and async transports are twins: everything that is not I/O lives in ``_Call`` (one logical
request across its attempts: the built request, the attempt count, error building, the retry
decision), and each loop is the few lines of I/O around it.

Streams: ``stream()`` yields ``ServerSentEvent``s, or one ``ResponseBody`` when the server answered
a stream request with a whole JSON response (a proxy, or a server that ignored ``stream``). When
the codec's end marker arrives (``is_end``), the rest of the HTTP body is drained within
``_DRAIN_SECONDS`` (so the connection can be reused) before the marker is yielded; the caller stops
there and closes the generator, which closes the response. A server that keeps the connection open
after ``[DONE]`` costs at most that bound, never the read timeout.

Pools (``_owned_pool``), one per transport, and for async one per event loop, configured by httpx
(SSL context, proxy environment, keep-alive) and spoken to in httpcore's own request and response
(``_raw_request``, ``_RawResponse``: httpx's models around them cost ~20 µs a call, ~18 % of the
client's instructions per loopback invoke). Sync: httpx's httpcore pool; async: httpcore's
connections scheduled by a pool of our own (``_pool.AsyncPool``: in httpcore's, a long-lived
client's second burst of 1000 concurrent streams took 30 s against 3 s for its first). httpcore's
exceptions are mapped to httpx's as httpx maps them, so one error mapping serves owned pools and
injected clients (which go through httpx as they are). A compressed body is read by httpx.

httpx itself is imported on first use, not at import time: ``httpx/__init__`` also loads its
command line (click, rich, pygments) whenever those are installed, ~180 ms that an
``import langchain_a2agent`` should not pay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Union

from . import __version__
from ._errors import (
    A2AgentError,
    APIConnectionError,
    APIResponseError,
    APITimeoutError,
    InvalidInputError,
    RateLimitError,
    make_status_error,
    register_secret,
    scrub_exception,
)
from ._limiter import OK, OTHER, THROTTLED, KeyLimiter, LimiterSettings, Permit, limiter_for
from ._retry import RetryPolicy
from ._sse import ServerSentEvent, SSEDecoder
from ._validate import (
    DEFAULT_TIMEOUT,
    check_api_key,
    check_base_url,
    check_headers,
    check_max_retries,
    check_timeout,
    encode_json,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncTransport", "ResponseBody", "SyncTransport",
           "TransportConfig"]

log = logging.getLogger("a2agent")

DEFAULT_BASE_URL = "https://api.a2agent.me/v1"
_CONNECT_TIMEOUT = 10.0
Timeout = Union[float, "httpx.Timeout", None]  # a string forward reference needs Union
_USER_AGENT = f"a2agent-python/{__version__}"
_CLIENT_LOCK = threading.Lock()
# Our own pools: as many connections as a 1000-stream burst needs (every stream holds one for its
# whole length; the per-key limiter admits 1000 at once by default).
_MAX_CONNECTIONS = 1000
# Idle connections kept for the next burst of a long-lived client (for _KEEPALIVE_EXPIRY at most).
# The async pool (_pool.AsyncPool) keeps them all: an idle connection costs it nothing per request,
# and a second burst of 1000 streams on the 1000 kept took 0.9-1.6 s against 1.6-2.0 s on 200 kept
# (loopback, where a new connection is cheap; on a real server each reuse also saves a TLS handshake).
# The sync pool is httpcore's, which looks at every connection on every request: 200 (threads do
# not pile onto one idle connection as tasks do; 1000 streams on 200 threads: 1.1-1.3 s a burst).
_MAX_KEEPALIVE = 200
_MAX_ASYNC_IDLE = _MAX_CONNECTIONS
_KEEPALIVE_EXPIRY = 30.0
_HEAD_BYTES = 300  # how much of a non-SSE 200 body an error quotes
# After a stream's end marker ([DONE], message_stop) the HTTP body should end at once (the chunked
# terminator is usually in the same packet). Reading it keeps the connection for the next request
# (a new TLS handshake costs round trips); waiting longer than this for it is not worth it, and a
# server that never ends the body must not hold the caller.
_DRAIN_SECONDS = 0.25
_DRAIN_BYTES = 65536


class TransportConfig:
    """Resolved, validated connection settings. ``repr`` never shows the key."""

    __slots__ = ("__weakref__", "_api_key", "_base_headers", "_default_timeout", "_targets", "_urls", "base_url",
                 "default_headers", "limiter", "policy", "timeout")

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | object = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        limiter: LimiterSettings | None = None,
    ) -> None:
        key = check_api_key(api_key if api_key is not None else os.environ.get("A2AGENT_API_KEY"))
        register_secret(key, self)  # from here on, no a2agent error can carry this key
        self._api_key = key
        self.base_url = check_base_url(base_url or os.environ.get("A2AGENT_BASE_URL") or DEFAULT_BASE_URL)
        self.timeout = check_timeout(timeout)
        policy = policy or RetryPolicy()
        if max_retries is not None:
            policy = dataclasses.replace(policy, max_retries=check_max_retries(max_retries))
        self.policy = policy
        self.default_headers = check_headers(default_headers)
        self._base_headers: httpx.Headers | None = None
        self._urls: dict[str, httpx.URL] = {}
        self._targets: dict[str, tuple[Any, bytes]] = {}
        self._default_timeout: tuple[Any, dict[str, Any]] | None = None
        # One limiter per (base URL, key) in the process, shared with every other client of the key.
        self.limiter: KeyLimiter | None = limiter_for(self.base_url, key, limiter) if limiter else None

    @property
    def api_key(self) -> str:
        return self._api_key

    def headers(self, extra: Mapping[str, str] | None = None) -> httpx.Headers:
        """Every header a request carries (what httpx.Client would add included); the common set
        is built once per config, ``extra`` (per call) wins.

        An ``httpx.Headers``, not a dict: a request copies one as it is, where a dict is normalized
        header by header on every request (together with ``url()``: ~25 µs less per request).
        """
        if self._base_headers is None:
            import httpx

            self._base_headers = httpx.Headers({
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
                "Connection": "keep-alive",
                "User-Agent": _USER_AGENT,
                **self.default_headers,
            })
        if not extra:
            return self._base_headers
        headers = self._base_headers.copy()
        headers.update(extra)
        return headers

    def url(self, path: str) -> httpx.URL:
        """The parsed URL of an endpoint, parsed once (httpx parses a string URL on every request)."""
        url = self._urls.get(path)
        if url is None:
            import httpx

            url = httpx.URL(self.base_url + path)
            if len(self._urls) < 16:  # the endpoints are a handful of constants; never grow unbounded
                self._urls[path] = url
        return url

    def target(self, path: str) -> tuple[Any, bytes]:
        """(httpcore.URL, Host header) of an endpoint for the owned pools, built once."""
        target = self._targets.get(path)
        if target is None:
            import httpcore

            url = self.url(path)
            target = (httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
                      url.netloc)
            if len(self._targets) < 16:
                self._targets[path] = target
        return target

    def request_timeout(self, timeout: Timeout | object) -> tuple[httpx.Timeout, dict[str, Any]]:
        """(httpx.Timeout, its extension dict); the default is converted once per config."""
        if timeout is None:
            if self._default_timeout is None:
                value = _httpx_timeout(self.timeout)
                self._default_timeout = (value, value.as_dict())
            return self._default_timeout
        value = _httpx_timeout(check_timeout(timeout))
        return value, value.as_dict()

    def __repr__(self) -> str:
        return f"TransportConfig(base_url={self.base_url!r}, max_retries={self.policy.max_retries}, api_key='***')"


def _httpx_timeout(timeout: Any) -> httpx.Timeout:
    import httpx

    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout, connect=min(_CONNECT_TIMEOUT, timeout))


def _decode_body(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")


def _never(event: ServerSentEvent) -> bool:
    return False


class ResponseBody:
    """What ``stream()`` yields once when a stream request was answered with a whole JSON body."""

    __slots__ = ("body",)

    def __init__(self, body: Any) -> None:
        self.body = body


def _map_httpx_error(exc: Exception, method: str, url: str, attempts: int) -> A2AgentError | None:
    """The a2agent error for an httpx exception, most specific class first, as httpx maps httpcore's
    (``httpx/_transports/default.py``); None for what is not a request failure (httpx's usage
    errors such as ``StreamConsumed`` are bugs in the calling code and propagate as they are).

    The httpx exception stays attached as ``__cause__``, scrubbed in place first: its request
    carries the Authorization header, so it is detached.
    """
    import httpx

    error: A2AgentError
    if isinstance(exc, httpx.TimeoutException):
        error = APITimeoutError(f"Request timed out ({type(exc).__name__})", method=method, url=url,
                                attempts=attempts)
    elif isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
        # Our side could not form the request: retrying would fail the same way.
        error = InvalidInputError(f"The request could not be sent ({method} {url}): {type(exc).__name__}: {exc}")
    elif isinstance(exc, httpx.TransportError):  # network, remote protocol, proxy
        error = APIConnectionError(f"Connection error: {type(exc).__name__}: {exc}", method=method, url=url,
                                   attempts=attempts)
    elif isinstance(exc, httpx.DecodingError | httpx.TooManyRedirects):
        # The response arrived but cannot be read; a POST is not repeated for that.
        error = APIResponseError(f"Unreadable response ({method} {url}): {type(exc).__name__}: {exc}")
    else:
        return None
    error.__cause__ = scrub_exception(exc)
    return error


def _limits() -> httpx.Limits:
    import httpx

    return httpx.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_KEEPALIVE,
                        keepalive_expiry=_KEEPALIVE_EXPIRY)


def _owned_pool(config: TransportConfig, asynchronous: bool) -> Any:
    """Our own connection pool, an httpcore one configured by httpx's transport.

    ``httpx.Client`` adds auth flows, redirects, cookies and event hooks around its transport, none
    of which an owned client uses, for ~70 us a call (a quarter of a loopback round trip), and the
    transport adds httpx's request and response models (~20 µs more). What they would have given
    us is kept: proxy environment variables (``HTTPS_PROXY``, ``NO_PROXY``, ...) via the standard
    library, and SSL/proxy/keep-alive settings via the transport, whose httpcore pool (``_pool``,
    httpx's one attribute we read) is the sync pool. The async pool is ``_pool.AsyncPool``, which
    makes its connections with that pool's factory.
    """
    import urllib.request
    from urllib.parse import urlsplit

    import httpx

    parts = urlsplit(config.base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
        proxy = None
    if not asynchronous:
        # The sync transport talks to httpx's httpcore pool (its connection or proxy pool, as httpx
        # configured it) with httpcore's request and response (see ``_RawResponse``).
        return httpx.HTTPTransport(limits=_limits(), proxy=proxy)._pool
    from ._pool import AsyncPool

    # Connections are made by the factory of the httpcore pool httpx configured (SSL, proxy,
    # keep-alive expiry); that pool itself is never used (tests/faults/test_bursts.py checks ours is).
    factory = httpx.AsyncHTTPTransport(limits=_limits(), proxy=proxy)._pool.create_connection
    return AsyncPool(factory, max_connections=_MAX_CONNECTIONS, max_idle=_MAX_ASYNC_IDLE,
                     idle_expiry=_KEEPALIVE_EXPIRY)


def _drain_reads(response: httpx.Response) -> Any:
    """The response's network stream with its reads capped at ``_DRAIN_SECONDS``, or None.

    httpcore reads the body with the request's read timeout, fixed when the body starts; for the
    drain only, the stream's ``read`` (httpcore's public ``network_stream`` extension) is wrapped.
    The caller deletes the wrapper afterwards. Without the extension (HTTP/2, a custom transport)
    there is no drain: the response is closed, which is always safe.
    """
    stream = response.extensions.get("network_stream")
    if stream is None or "read" in vars(stream):
        return None
    read = stream.read
    stream.read = lambda max_bytes, timeout=None: read(max_bytes, _DRAIN_SECONDS)
    return stream


def _drain(response: httpx.Response, chunks: Iterator[bytes]) -> None:
    import httpx

    stream = _drain_reads(response)
    if stream is None:
        return
    try:
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > _DRAIN_BYTES:
                break
    except httpx.RequestError:
        pass  # slow or broken after the end marker: the response is closed, nothing is lost
    finally:
        del stream.read


async def _adrain(response: httpx.Response, chunks: AsyncIterator[bytes]) -> None:
    import httpx

    stream = _drain_reads(response)
    if stream is None:
        return
    try:
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            if total > _DRAIN_BYTES:
                break
    except httpx.RequestError:
        pass
    finally:
        del stream.read


def _raw_request(config: TransportConfig, method: str, path: str, content: bytes | None, headers: httpx.Headers,
                 extension: dict[str, Any]) -> Any:
    """An ``httpcore.Request`` as httpx would build it: Host (unless the caller set one, e.g. for a
    virtual host behind an address), then Content-Length for a body, then the client's headers
    (which never carry framing headers: ``check_headers`` refuses them)."""
    import httpcore

    url, host = config.target(path)
    fields = [] if "host" in headers else [(b"Host", host)]
    if content is not None:
        fields.append((b"Content-Length", str(len(content)).encode()))
    fields += headers.raw
    return httpcore.Request(method, url, headers=fields, content=content, extensions={"timeout": extension})


_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[Exception]], ...] = ()


def _raise_as_httpx(exc: Exception) -> NoReturn:
    """Raise httpcore's exception as httpx's transport maps it (most specific class first), so one
    error mapping (``_map_httpx_error``) serves every pool; anything else is raised as it is."""
    global _HTTPCORE_ERRORS
    if not _HTTPCORE_ERRORS:
        import httpcore
        import httpx

        _HTTPCORE_ERRORS = tuple((getattr(httpcore, name), getattr(httpx, name)) for name in (
            "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException", "ConnectError",
            "ReadError", "WriteError", "NetworkError", "ProxyError", "UnsupportedProtocol", "LocalProtocolError",
            "RemoteProtocolError", "ProtocolError"))
    for core, mapped in _HTTPCORE_ERRORS:
        if isinstance(exc, core):
            raise mapped(str(exc)) from exc
    raise exc


def _iter_raw(stream: Any) -> Iterator[bytes]:
    try:
        for chunk in stream:
            if chunk:
                yield chunk
    except Exception as exc:
        _raise_as_httpx(exc)


async def _aiter_raw(stream: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            if chunk:
                yield chunk
    except Exception as exc:
        _raise_as_httpx(exc)


class _RawResponse:
    """A response of an owned pool, read straight from httpcore's: only what the transport
    reads of an ``httpx.Response`` (status_code, headers, content, read, iter_bytes, close,
    extensions). Building httpx's request and response models around httpcore's costs ~20 µs a call
    (measured: 17 µs to build both requests against 4 µs for httpcore's alone, 10 µs against 4 µs to
    wrap and read a small response), about 5 % of a loopback invoke. A compressed body is not read
    here: ``_open_raw`` gives it to a real ``httpx.Response``, whose decoders handle it.
    """

    __slots__ = ("_headers", "_raw", "content", "extensions", "status_code")

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._headers: httpx.Headers | None = None
        self.status_code: int = raw.status
        self.extensions: dict[str, Any] = raw.extensions
        self.content = b""

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            import httpx

            self._headers = httpx.Headers(self._raw.headers)
        return self._headers

    def iter_bytes(self) -> Iterator[bytes]:
        return _iter_raw(self._raw.stream)

    def read(self) -> bytes:
        self.content = b"".join(_iter_raw(self._raw.stream))
        return self.content

    def close(self) -> None:
        self._raw.close()

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return _aiter_raw(self._raw.stream)

    async def aread(self) -> bytes:
        self.content = b"".join([chunk async for chunk in _aiter_raw(self._raw.stream)])
        return self.content

    async def aclose(self) -> None:
        await self._raw.aclose()


def _compressed(raw: Any) -> bool:
    return any(name.lower() == b"content-encoding" and value.strip().lower() not in (b"", b"identity")
               for name, value in raw.headers)


def _open_raw(pool: Any, request: Any) -> Any:
    """Send ``request`` on an owned sync (httpcore) pool; httpcore's exceptions become httpx's."""
    try:
        raw = pool.handle_request(request)
    except Exception as exc:
        _raise_as_httpx(exc)
    return _response(raw, asynchronous=False)


async def _aopen_raw(pool: Any, request: Any) -> Any:
    """``_open_raw``'s twin for an owned async pool (``_pool.AsyncPool``)."""
    try:
        raw = await pool.handle_async_request(request)
    except Exception as exc:
        _raise_as_httpx(exc)
    return _response(raw, asynchronous=True)


def _response(raw: Any, asynchronous: bool) -> Any:
    """A ``_RawResponse`` around httpcore's response, or for a compressed body an ``httpx.Response``
    whose decoders read it (its stream still raises httpx's exceptions)."""
    if not _compressed(raw):
        return _RawResponse(raw)
    import httpx

    if asynchronous:
        class AsyncBody(httpx.AsyncByteStream):
            def __aiter__(self) -> AsyncIterator[bytes]:
                return _aiter_raw(raw.stream)

            async def aclose(self) -> None:
                await raw.aclose()

        body: Any = AsyncBody()
    else:
        class Body(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                return _iter_raw(raw.stream)

            def close(self) -> None:
                raw.close()

        body = Body()
    return httpx.Response(raw.status, headers=raw.headers, stream=body, extensions=raw.extensions)


class _Call:
    """One logical request across its attempts; everything the twin loops share that is not I/O."""

    __slots__ = ("absorbed", "attempts", "config", "limiter", "method", "permit", "request", "retry_after", "status",
                 "timeout", "url", "waited")

    def __init__(self, config: TransportConfig, client: httpx.Client | httpx.AsyncClient | None, method: str,
                 path: str, payload: Any, timeout: Timeout | object, extra: Mapping[str, str] | None,
                 stream: bool = False) -> None:
        import httpx

        self.config = config
        self.method = method
        self.url = config.base_url + path
        self.attempts = 0
        self.limiter = config.limiter
        self.permit: Permit | None = None
        self.status = 0  # of the current attempt's response; 0: none (yet)
        self.retry_after: float | None = None
        self.absorbed = 0  # 429s the limiter waited out for this call (not counted as attempts)
        self.waited = 0.0  # seconds spent in the limiter, all attempts together
        self.timeout = timeout
        if stream:
            extra = {**(extra or {}), "Accept": "text/event-stream"}
        content = encode_json(payload) if payload is not None else None
        # The key travels in the Authorization header only: a body that holds it (a key passed as a
        # request field under any name, nested or not) is refused before it leaves the process.
        if content is not None and config.api_key.encode() in content:
            raise InvalidInputError("The request body contains the API key (a field set to it); the key is sent "
                                    "in the Authorization header only: pass it as api_key=, never as a parameter")
        headers = config.headers(extra)  # the caller's per-call headers were checked where they came in
        request_timeout, extension = config.request_timeout(timeout)
        try:
            if client is not None:  # an injected client: its defaults, auth and mounts apply
                self.request = client.build_request(method, config.url(path), content=content, headers=headers,
                                                    timeout=request_timeout)
            else:  # an owned pool: httpcore's request, the headers httpx would add included
                self.request = _raw_request(config, method, path, content, headers, extension)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise InvalidInputError(f"Cannot build a request for {self.url!r}: {exc}") from scrub_exception(exc)

    # -- the limiter: every attempt holds a permit from before it is sent until it ended ---------
    def _wait_limit(self) -> float | None:
        """What is left of the call's timeout for waiting in the limiter (it counts against it)."""
        timeout = self.config.timeout if self.timeout is None else self.timeout
        seconds = timeout if isinstance(timeout, int | float) else getattr(timeout, "read", None)
        return None if seconds is None else seconds - self.waited

    def enter(self) -> None:
        self.status = 0
        if self.limiter is not None:
            self.permit = permit = self.limiter.acquire(self._wait_limit(), self.waited, self.absorbed > 0)
            self.waited += permit.waited

    async def aenter(self) -> None:
        self.status = 0
        if self.limiter is not None:
            self.permit = permit = await self.limiter.aacquire(self._wait_limit(), self.waited, self.absorbed > 0)
            self.waited += permit.waited

    def _outcome(self) -> tuple[int, float | None]:
        status = self.status
        if status == 429:
            return THROTTLED, self.retry_after
        return (OK if 0 < status < 400 else OTHER), None

    def leave(self) -> None:
        permit = self.permit
        if permit is not None:
            self.permit = None
            self.limiter.release(permit, *self._outcome())  # type: ignore[union-attr]

    async def aleave(self) -> None:
        permit = self.permit
        if permit is not None:
            self.permit = None
            await self.limiter.arelease(permit, *self._outcome())  # type: ignore[union-attr]

    def absorb(self, error: A2AgentError) -> bool:
        """True when the limiter takes a transient 429 on itself: the call waits in the limiter (the
        shared pause, then its pace) and is sent again without using a retry."""
        limiter = self.limiter
        if (limiter is None or not isinstance(error, RateLimitError)
                or self.absorbed >= limiter.settings.max_throttled_retries):
            return False
        policy = self.config.policy
        if not policy.should_retry_status(429, error.headers, error.body):
            return False
        if error.retry_after is not None and error.retry_after > policy.max_retry_after:
            return False
        self.absorbed += 1
        self.attempts -= 1
        log.debug("a2agent: %s %s got 429; waiting in the limiter (%d)", self.method, self.url, self.absorbed)
        return True

    def transport_error(self, exc: Exception) -> A2AgentError:
        error = _map_httpx_error(exc, self.method, self.url, self.attempts)
        if error is None:
            raise exc
        return error

    def status_error(self, response: httpx.Response) -> A2AgentError:
        headers = dict(response.headers)
        self.retry_after = self.config.policy.server_wait(headers)
        return make_status_error(response.status_code, _decode_body(response.content), headers=headers,
                                 method=self.method, url=self.url, attempts=self.attempts,
                                 retry_after=self.retry_after, base_url=self.config.base_url)

    def retry_delay(self, error: A2AgentError) -> float | None:
        """Seconds to sleep before the next attempt (0: none, the limiter paces it), or None: raise."""
        if self.status == 429 and self.absorb(error):
            return 0.0
        delay = self.config.policy.retry_delay(self.attempts, error)
        if delay is not None:
            log.info("a2agent: %s %s failed with %s; retry %d of %d in %.2fs", self.method, self.url,
                     type(error).__name__, self.attempts, self.config.policy.max_retries, delay)
        return delay

    @staticmethod
    def is_json(response: httpx.Response) -> bool:
        content_type: str = response.headers.get("content-type", "")
        return content_type.startswith("application/json")

    def no_events(self, response: httpx.Response, head: bytes) -> APIResponseError:
        kind = response.headers.get("content-type", "none")
        text = head[:_HEAD_BYTES].decode("utf-8", "replace")
        return APIResponseError(f"The stream ({self.method} {self.url}) answered 200 with no server-sent events "
                                f"(content-type: {kind}); body starts: {text!r}", body=text)


class SyncTransport:
    def __init__(self, config: TransportConfig, http_client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._client = http_client  # injected: used as is, never closed by us
        self._pool: Any = None  # owned httpcore pool, built on first use (it builds an SSL context)
        self._sleep = sleep

    def _owned(self) -> Any:
        if self._pool is None:
            with _CLIENT_LOCK:
                if self._pool is None:
                    self._pool = _owned_pool(self.config, asynchronous=False)
        return self._pool

    def _send(self, request: Any, stream: bool) -> Any:
        """An ``httpx.Response`` from an injected client, else a ``_RawResponse`` (or, compressed, an
        ``httpx.Response``) from the owned pool; read and closed unless ``stream``."""
        if self._client is not None:
            return self._client.send(request, stream=stream)
        response = _open_raw(self._owned(), request)
        if not stream:
            try:
                response.read()
            finally:
                response.close()
        return response

    def request(self, method: str, path: str, payload: Any = None, *, timeout: Timeout | object = None,
                headers: Mapping[str, str] | None = None) -> Any:
        import httpx

        call = _Call(self.config, self._client, method, path, payload, timeout, headers)
        if self._client is None:
            self._owned()  # before the first permit: building the pool (~60 ms) would hold it
        while True:
            call.attempts += 1
            call.enter()
            try:
                response = self._send(call.request, stream=False)
            except httpx.RequestError as exc:
                error = call.transport_error(exc)
            else:
                call.status = response.status_code
                if response.status_code < 400:
                    return _decode_body(response.content)
                error = call.status_error(response)
            finally:
                call.leave()
            delay = call.retry_delay(error)
            if delay is None:
                raise error
            if delay:
                self._sleep(delay)

    def stream(self, path: str, payload: Any, *, is_end: Callable[[ServerSentEvent], bool] = _never,
               timeout: Timeout | object = None,
               headers: Mapping[str, str] | None = None) -> Iterator[ServerSentEvent | ResponseBody]:
        """Yield SSE events; retried like ``request`` until the first event has been yielded."""
        import httpx

        call = _Call(self.config, self._client, "POST", path, payload, timeout, headers, stream=True)
        if self._client is None:
            self._owned()  # before the first permit: building the pool (~60 ms) would hold it
        while True:
            call.attempts += 1
            delivered = False
            head = b""
            call.enter()  # the permit is held until the stream ends
            try:
                response = self._send(call.request, stream=True)
                call.status = response.status_code
                try:
                    if response.status_code >= 400:
                        response.read()
                        error = call.status_error(response)
                    elif call.is_json(response):
                        response.read()
                        yield ResponseBody(_decode_body(response.content))
                        return
                    else:
                        decoder = SSEDecoder()
                        chunks = response.iter_bytes()
                        for chunk in chunks:
                            events = decoder.feed(chunk)
                            if events:
                                delivered = True
                                if is_end(events[-1]):
                                    _drain(response, chunks)
                                yield from events
                            elif not delivered and len(head) < _HEAD_BYTES:
                                head += chunk
                        for event in decoder.flush():
                            delivered = True
                            yield event
                        if not delivered:
                            raise call.no_events(response, head)
                        return
                finally:
                    response.close()
            except httpx.RequestError as exc:
                error = call.transport_error(exc)
            finally:
                call.leave()
            delay = None if delivered else call.retry_delay(error)
            if delay is None:
                raise error
            if delay:
                self._sleep(delay)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class AsyncTransport:
    def __init__(self, config: TransportConfig, http_client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.config = config
        self._client = http_client
        # A pool's connections belong to the event loop they were opened on: one pool per loop, so
        # a model reused across asyncio.run() calls (scripts, notebooks) or from several threads'
        # loops works. Each pool is closed when its loop shuts down (see _close_at_shutdown).
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = \
            weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None  # the last loop, and its pool: the hot path
        self._pool: Any = None
        self._sleep = sleep

    async def _owned(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return self._pool
        entry = self._pools.get(loop)
        if entry is None:
            pool = _owned_pool(self.config, asynchronous=True)
            closer = _close_at_shutdown(self, loop, pool)
            await closer.__anext__()  # registered with the loop now (its async-generator hooks)
            entry = self._pools[loop] = (pool, closer)
        self._loop, self._pool = loop, entry[0]
        return entry[0]

    async def _send(self, request: Any, stream: bool) -> Any:
        """``SyncTransport._send``'s twin."""
        if self._client is not None:
            return await self._client.send(request, stream=stream)
        response = await _aopen_raw(await self._owned(), request)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def request(self, method: str, path: str, payload: Any = None, *, timeout: Timeout | object = None,
                      headers: Mapping[str, str] | None = None) -> Any:
        import httpx

        call = _Call(self.config, self._client, method, path, payload, timeout, headers)
        if self._client is None:
            await self._owned()  # before the first permit: building the pool (~60 ms) would hold it
        while True:
            call.attempts += 1
            await call.aenter()
            try:
                response = await self._send(call.request, stream=False)
            except httpx.RequestError as exc:
                error = call.transport_error(exc)
            else:
                call.status = response.status_code
                if response.status_code < 400:
                    return _decode_body(response.content)
                error = call.status_error(response)
            finally:
                await call.aleave()
            delay = call.retry_delay(error)
            if delay is None:
                raise error
            if delay:
                await self._sleep(delay)

    async def stream(self, path: str, payload: Any, *, is_end: Callable[[ServerSentEvent], bool] = _never,
                     timeout: Timeout | object = None,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[ServerSentEvent | ResponseBody]:
        import httpx

        call = _Call(self.config, self._client, "POST", path, payload, timeout, headers, stream=True)
        if self._client is None:
            await self._owned()  # before the first permit: building the pool (~60 ms) would hold it
        while True:
            call.attempts += 1
            delivered = False
            head = b""
            await call.aenter()  # the permit is held until the stream ends
            try:
                response = await self._send(call.request, stream=True)
                call.status = response.status_code
                try:
                    if response.status_code >= 400:
                        await response.aread()
                        error = call.status_error(response)
                    elif call.is_json(response):
                        await response.aread()
                        yield ResponseBody(_decode_body(response.content))
                        return
                    else:
                        decoder = SSEDecoder()
                        chunks = response.aiter_bytes()
                        async for chunk in chunks:
                            events = decoder.feed(chunk)
                            if events:
                                delivered = True
                                if is_end(events[-1]):
                                    await _adrain(response, chunks)
                                for event in events:
                                    yield event
                            elif not delivered and len(head) < _HEAD_BYTES:
                                head += chunk
                        for event in decoder.flush():
                            delivered = True
                            yield event
                        if not delivered:
                            raise call.no_events(response, head)
                        return
                finally:
                    await response.aclose()
            except httpx.RequestError as exc:
                error = call.transport_error(exc)
            finally:
                await call.aleave()
            delay = None if delivered else call.retry_delay(error)
            if delay is None:
                raise error
            if delay:
                await self._sleep(delay)

    async def aclose(self) -> None:
        """Close this loop's pool now; pools of other loops close when their loop shuts down."""
        entry = self._pools.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()


async def _close_at_shutdown(transport: AsyncTransport, loop: asyncio.AbstractEventLoop,
                             pool: Any) -> AsyncIterator[None]:
    """Closes ``pool`` when ``loop`` shuts down: ``asyncio.run`` (and ``Runner``) finalize every
    live async generator of the loop before closing it, and this one closes the pool's sockets
    while the loop can still do so. Without it, each ``asyncio.run()`` leaked its connections."""
    try:
        yield
    finally:
        transport._pools.pop(loop, None)
        if transport._loop is loop:
            transport._loop = transport._pool = None
        await pool.aclose()
