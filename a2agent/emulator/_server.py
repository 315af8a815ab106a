"""Run the emulator as a real HTTP server on loopback, in a background thread or as a process."""

from __future__ import annotations

import argparse
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from ._app import Emulator, SimulatedDisconnect
from ._state import DEFAULT_API_KEY, EmulatorConfig, EmulatorState


class _DropSimulatedDisconnects(logging.Filter):
    """Injected disconnects are intentional: keep their tracebacks out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, SimulatedDisconnect):
                return False
            exc = exc.__cause__ or exc.__context__ or (
                exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) and exc.exceptions else None)
        return True


logging.getLogger("uvicorn.error").addFilter(_DropSimulatedDisconnects())


class EmulatorServer:
    """A live emulator: ``base_url``, ``api_key``, ``state`` (script, request log) and ``stop()``."""

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = EmulatorState(config)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        uv_config = uvicorn.Config(Emulator(self.state).app, log_level="warning", lifespan="off",
                                   timeout_keep_alive=30, access_log=False)
        self._server = uvicorn.Server(uv_config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def api_key(self) -> str:
        return DEFAULT_API_KEY

    def script(self, *entries: dict[str, Any]) -> None:
        self.state.script(*entries)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.state.requests

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="a2agent-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("a2agent emulator failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def run_emulator(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
                 ) -> Iterator[EmulatorServer]:
    """``with run_emulator() as emu: A2AgentClient(base_url=emu.base_url, api_key=emu.api_key)``."""
    server = EmulatorServer(config, host, port).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None, *, prog: str = "python -m a2agent.emulator",
         epilog: str | None = None) -> None:
    """Run the emulator in the foreground; also ``a2agent emulator`` (which passes its own prog and examples)."""
    parser = argparse.ArgumentParser(prog=prog, description="Local A2Agent-compatible gateway emulator.",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rate-limit", default=None, help="REQUESTS/SECONDS per key, e.g. 10/1")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream chunks")
    parser.add_argument("--strict-keys", action="store_true",
                        help=f"accept only the built-in keys (default key: {DEFAULT_API_KEY})")
    args = parser.parse_args(argv)
    rate = None
    if args.rate_limit:
        count, _, seconds = args.rate_limit.partition("/")
        rate = (int(count), float(seconds or 1))
    config = EmulatorConfig(accept_any_key=not args.strict_keys, rate_limit=rate, chunk_delay=args.chunk_delay)
    server = EmulatorServer(config, args.host, args.port)
    print(f"a2agent emulator on {server.base_url} (api key: {server.api_key})", flush=True)
    server._server.run(sockets=[server._sock])
