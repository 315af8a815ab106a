"""Fixtures of the fault tests: the raw fault server, the JSON/stream axis, and the key hunt."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.helpers import KEY, assert_no_key, debug_logging
from tests.faults.server import FaultServer

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests go straight to 127.0.0.1, never through an ambient proxy."""
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[FaultServer]:
    srv = FaultServer()
    try:
        yield srv
    finally:
        srv.stop()
    assert not srv.errors, f"fault server script errors: {srv.errors}"


@pytest.fixture(params=["json", "stream"])
def kind(request: pytest.FixtureRequest) -> str:
    """Non-streamed (JSON) or streamed (SSE) request."""
    return str(request.param)


@pytest.fixture
def hunt(caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder) -> Callable[[BaseException], None]:
    """``hunt(exc)``: assert_no_key over the exception, every DEBUG log record and every warning of the test."""
    debug_logging(caplog)

    def check(exc: BaseException | None, key: str = KEY) -> None:
        assert_no_key(exc, key, caplog=caplog, recwarn=recwarn)

    return check
