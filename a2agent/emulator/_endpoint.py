"""Pick the endpoint for notebooks and demos: the real gateway when configured, else the emulator."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._server import EmulatorServer


@dataclass
class Endpoint:
    base_url: str
    api_key: str = field(repr=False)
    emulator: EmulatorServer | None

    @property
    def is_emulator(self) -> bool:
        return self.emulator is not None


_RUNNING: Endpoint | None = None


def ensure_endpoint(announce: bool = True) -> Endpoint:
    """Use ``A2AGENT_API_KEY`` (and ``A2AGENT_BASE_URL``) when set; otherwise start the bundled
    emulator on 127.0.0.1 once per process and export both variables, so ``ChatA2Agent()`` and
    ``A2AgentLLM()`` pick it up with no arguments."""
    global _RUNNING
    key = os.environ.get("A2AGENT_API_KEY")
    if key and (_RUNNING is None or key != _RUNNING.api_key):
        from .._transport import DEFAULT_BASE_URL

        base_url = os.environ.get("A2AGENT_BASE_URL") or DEFAULT_BASE_URL
        if announce:
            print(f"Using the A2Agent gateway at {base_url} (A2AGENT_API_KEY is set).")
        return Endpoint(base_url, key, None)
    if _RUNNING is None:
        from ._server import EmulatorServer
        from ._state import EmulatorConfig

        server = EmulatorServer(EmulatorConfig(accept_any_key=True)).start()
        _RUNNING = Endpoint(server.base_url, server.api_key, server)
        os.environ["A2AGENT_API_KEY"] = server.api_key
        os.environ["A2AGENT_BASE_URL"] = server.base_url
    if announce:
        # No port in the message: notebooks store this output and compare it run to run.
        print("No A2AGENT_API_KEY set: using the bundled A2Agent emulator on 127.0.0.1, a local stand-in with "
              "canned, deterministic answers (a real model's answers differ).")
    return _RUNNING
