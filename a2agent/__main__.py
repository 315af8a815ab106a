"""``python -m a2agent``: the command line (see ``a2agent/_cli.py``)."""

from ._cli import main

raise SystemExit(main())
