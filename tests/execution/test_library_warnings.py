"""numpy/mrcfile RuntimeWarnings are held back: shown after success, dropped on error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cryolike_convert.errors import ConversionError, ConversionWarning
from cryolike_convert.execution.library_warnings import routed_warnings


def _fail_with_warnings() -> None:
    with routed_warnings():
        np.log(np.zeros(3))  # numpy: divide by zero
        warnings.warn("Map ID string not found", RuntimeWarning, stacklevel=1)
        warnings.warn("oddity", ConversionWarning, stacklevel=1)
        raise ConversionError("bad input")


def test_runtime_warnings_never_precede_an_error() -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(ConversionError, match="bad input"):
            _fail_with_warnings()
    assert [str(item.message) for item in shown] == ["oddity"]


def test_runtime_warnings_are_shown_after_a_success() -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with routed_warnings():
            np.log(np.zeros(3))
            assert not shown  # held back while the block runs
    assert [item.category for item in shown] == [RuntimeWarning]
    assert "divide by zero" in str(shown[0].message)


def test_the_callers_filters_still_apply_afterwards() -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", RuntimeWarning)
        with routed_warnings():
            np.log(np.zeros(3))
    assert shown == []
