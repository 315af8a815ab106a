"""pytest fixtures: ``a2agent_emulator`` (one live server per session, reset per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import EmulatorServer


@pytest.fixture(scope="session")
def a2agent_emulator_session() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture
def a2agent_emulator(a2agent_emulator_session: EmulatorServer) -> Iterator[EmulatorServer]:
    """A live emulator on 127.0.0.1 with a clean script, request log and rate windows."""
    a2agent_emulator_session.state.reset()
    a2agent_emulator_session.state.config.rate_limit = None
    a2agent_emulator_session.state.config.chunk_delay = 0.0
    yield a2agent_emulator_session
    a2agent_emulator_session.state.reset()
