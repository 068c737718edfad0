"""Library ``RuntimeWarning``s (numpy, mrcfile) never print ahead of a run's own error.

Inside :func:`routed_warnings` every ``RuntimeWarning`` is held back. A run that
succeeds emits them afterwards, through the caller's warning filters; a run that
fails drops them, since the :class:`~cryolike_convert.errors.ConversionError` says
what went wrong. Other warnings (``ConversionWarning`` among them) are re-emitted
either way.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def routed_warnings() -> Iterator[None]:
    """Hold back ``RuntimeWarning``s until the block has succeeded (see module doc)."""
    held: list[warnings.WarningMessage] = []
    failed = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            try:
                yield
            finally:
                held = list(caught)
    except BaseException:
        failed = True
        raise
    finally:
        for item in held:
            if failed and issubclass(item.category, RuntimeWarning):
                continue
            warnings.warn_explicit(
                item.message,
                item.category,
                item.filename,
                item.lineno,
                source=item.source,
            )


__all__ = ["routed_warnings"]
