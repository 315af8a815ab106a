"""Optional extras: one clear error when a part of the package is used without its extra."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(exc: ModuleNotFoundError, what: str, extra: str) -> ModuleNotFoundError:
    """The error to raise (``from None``) when ``what`` cannot import ``exc.name``: says which extra
    brings it. Still a ``ModuleNotFoundError``, so ``except ImportError`` keeps working."""
    return ModuleNotFoundError(f"{what} needs the {exc.name!r} package, which is not installed; "
                               f"install the extra: pip install 'a2agent[{extra}]'", name=exc.name)
