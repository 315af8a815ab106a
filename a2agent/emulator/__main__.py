import sys

from .._extras import missing_extra
from . import _EXTRA_MODULES

try:
    from ._server import main
except ModuleNotFoundError as exc:
    if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
        raise
    # Exit status 2, as `a2agent emulator` (a setup error: nothing was served); the message on stderr.
    print(missing_extra(exc, "python -m a2agent.emulator", "emulator"), file=sys.stderr)
    raise SystemExit(2) from None

main()
