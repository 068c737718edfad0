"""Precision → dtypes: the one place that says what ``'single'`` and ``'double'`` mean."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Precision = Literal["single", "double"]
PRECISIONS: tuple[Precision, ...] = ("single", "double")


def complex_dtype(precision: Precision) -> np.dtype[np.complexfloating]:
    """The dtype of Fourier stacks: complex64 (single) or complex128 (double)."""
    return np.dtype(np.complex128 if precision == "double" else np.complex64)


def real_dtype(precision: Precision) -> np.dtype[np.floating]:
    """The real dtype images are transformed in: float32 (single) or float64 (double)."""
    return np.dtype(np.float64 if precision == "double" else np.float32)


def torch_dtypes(precision: Precision) -> tuple[torch.dtype, torch.dtype]:
    """The same as torch dtypes: ``(real, complex)``."""
    if precision == "double":
        return torch.float64, torch.complex128
    return torch.float32, torch.complex64


__all__ = ["PRECISIONS", "Precision", "complex_dtype", "real_dtype", "torch_dtypes"]
