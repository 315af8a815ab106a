"""A local A2Agent-compatible server for tests, notebooks and demos (needs the ``[emulator]`` extra).

    from a2agent.emulator import run_emulator
    with run_emulator() as emu:
        client = A2AgentClient(base_url=emu.base_url, api_key=emu.api_key)

Also ``python -m a2agent.emulator --port 8765``, the pytest fixture ``a2agent_emulator``
(``pytest_plugins = ["a2agent.emulator.pytest_plugin"]``), and ``ensure_endpoint()`` for notebooks.
Names load lazily, so ``ensure_endpoint`` works without Starlette when a real key is configured.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._extras import missing_extra

_EXTRA_MODULES = {"starlette", "uvicorn", "anyio"}

_EXPORTS = {
    "Emulator": "._app", "create_app": "._app",
    "EmulatorServer": "._server", "run_emulator": "._server",
    "DEFAULT_API_KEY": "._state", "NO_BALANCE_KEY": "._state", "SUSPENDED_KEY": "._state",
    "EmulatorConfig": "._state", "EmulatorState": "._state",
    "Endpoint": "._endpoint", "ensure_endpoint": "._endpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'a2agent.emulator' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module, __name__), name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise
        raise missing_extra(exc, "a2agent.emulator", "emulator") from None
