"""A local A2Agent-compatible server for tests, notebooks and demos (needs the ``[emulator]`` extra).

    from a2agent.emulator import run_emulator
    with run_emulator() as emu:
        client = A2AgentClient(base_url=emu.base_url, api_key=emu.api_key)

Also ``python -m a2agent.emulator --port 8765`` and the pytest fixture ``a2agent_emulator``
(``pytest_plugins = ["a2agent.emulator.pytest_plugin"]``).
"""

from ._app import Emulator, create_app
from ._server import EmulatorServer, run_emulator
from ._state import DEFAULT_API_KEY, NO_BALANCE_KEY, SUSPENDED_KEY, EmulatorConfig, EmulatorState

__all__ = [
    "DEFAULT_API_KEY",
    "NO_BALANCE_KEY",
    "SUSPENDED_KEY",
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "create_app",
    "run_emulator",
]
