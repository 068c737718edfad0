"""The dtype every ``.cs`` field must have before its values are used.

A ``.cs`` file is a numpy structured array, so a field can hold anything numpy can
store: byte strings where numbers belong, several values per row (a sub-array),
complex numbers. Each used field is checked up front, so that a bad one gives an
error naming the file and the field rather than a numpy ``TypeError`` (or, worse,
a conversion that silently uses the wrong values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import InvalidFieldError

#: dtype kinds allowed per role: real numbers, integers, text.
NUMBER_KINDS = "fiu"
INTEGER_KINDS = "iu"
TEXT_KINDS = "SU"
_KIND_NAMES = {
    "f": "floating point",
    "i": "integer",
    "u": "unsigned integer",
    "S": "byte string",
    "U": "text",
    "c": "complex",
    "b": "boolean",
    "O": "Python object",
    "V": "raw bytes",
    "M": "date",
    "m": "time span",
}


def check_field_type(file: Path, table: np.ndarray, field: str, kinds: str) -> None:
    """``table[field]`` must hold one value per row of a dtype kind in ``kinds``.

    Raises
    ------
    InvalidFieldError
        Naming the file, the field, its dtype and what was expected.
    """
    dtype: np.dtype[Any] = table.dtype[field]
    expected = {
        NUMBER_KINDS: "one number per row",
        INTEGER_KINDS: "one integer per row",
        TEXT_KINDS: "one path (text) per row",
    }.get(kinds, f"one value of kind {kinds!r} per row")
    if dtype.shape != ():
        raise InvalidFieldError(
            f"{file}: field {field} holds {dtype.shape} values per row ({dtype.base}); "
            f"expected {expected}",
            path=file,
            field=field,
            value=str(dtype),
        )
    if dtype.kind not in kinds:
        what = _KIND_NAMES.get(dtype.kind, dtype.kind)
        raise InvalidFieldError(
            f"{file}: field {field} is {what} ({dtype}); expected {expected}",
            path=file,
            field=field,
            value=str(dtype),
        )


__all__ = ["INTEGER_KINDS", "NUMBER_KINDS", "TEXT_KINDS", "check_field_type"]
