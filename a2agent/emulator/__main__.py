from .._extras import missing_extra
from . import _EXTRA_MODULES

try:
    from ._server import main
except ModuleNotFoundError as exc:
    if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
        raise
    raise SystemExit(str(missing_extra(exc, "python -m a2agent.emulator", "emulator"))) from None

main()
