"""Cartesian images → samples of their Fourier transform on the polar grid.

One entry point, :func:`images_to_fourier_polar`, and a thread-safe cache of plans,
one per grid, image shape, precision and device (:func:`transform_plan`):

- single precision, any device: :class:`SparsePolarTransform` (torch; a padded
  ``rfft2`` and a precomputed sparse interpolation matrix);
- double precision on CPU: :class:`DuccPolarTransform` (``ducc0``);
- double precision on CUDA: :class:`SparsePolarTransform` with the wider kernel.

Every path transforms each image on its own, single-threaded where the library
allows it and without timing-based planning, so the output bytes are a function of
the image, the grid, the precision and the device only: not of the thread count, the
block an image is transformed in, or the process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np
import torch

from cryolike_convert.errors import DeviceError
from cryolike_convert.transform.ducc_transform import DuccPolarTransform
from cryolike_convert.transform.polar_grid import PolarGrid
from cryolike_convert.transform.precision import Precision, complex_dtype
from cryolike_convert.transform.sparse_transform import SparsePolarTransform

#: Plans kept at once (a single-precision plan at box 512 holds ~140 MB of weights).
MAX_PLANS = 4


class PolarTransform(Protocol):
    """A plan: fills ``out`` with the polar transform of ``images`` (see module).

    ``batch_size`` is the number of images it transforms per internal step; the
    sparse engine always computes full steps, so callers waste no work when their
    blocks are multiples of it.
    """

    batch_size: int

    def __call__(self, images: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (``(n_images, n_shells, n_angles)``) and return it."""
        ...


_PlanKey = tuple[float, float, int, tuple[int, int], str, str]
_LOCK = threading.Lock()
_PLANS: OrderedDict[_PlanKey, PolarTransform] = OrderedDict()
_BUILDING: dict[_PlanKey, threading.Lock] = {}


def images_to_fourier_polar(
    images: np.ndarray,
    grid: PolarGrid,
    precision: Precision = "single",
    device: str | torch.device = "cpu",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Evaluate the Fourier transform of real images on the polar grid.

    ``F[m, s, t] = c * sum_{a,b} I[m,a,b] exp(-i (k1 a' + k2 b'))`` with
    ``a' = a - n_x // 2``, ``b' = b - n_y // 2``, ``c = 4 pi / sqrt(n_x n_y)`` and
    ``(k1, k2)`` the point of shell ``s`` at angle ``2 pi t / T`` in radians per
    pixel (:func:`~cryolike_convert.transform.polar_grid.pixel_frequencies`).

    Parameters
    ----------
    images
        Real images, shape ``(n_images, n_x, n_y)``, float32 or float64.
    grid
        The polar grid.
    precision
        ``'single'`` (complex64 output, within 2e-6 relative of the exact
        transform) or ``'double'`` (complex128, within 1e-11).
    device
        ``'cpu'`` or a CUDA device (``'cuda'``, ``'cuda:1'``); the result is always
        a host array.
    out
        Optional C-contiguous array of the result's shape and dtype to fill.

    Returns
    -------
    np.ndarray
        Shape ``(n_images, n_shells, n_inplanes)``, complex64 or complex128.
    """
    n_images, n_x, n_y = images.shape
    if out is None:
        out = np.empty(
            (n_images, grid.n_shells, grid.n_inplanes),
            dtype=complex_dtype(precision),
        )
    if n_images == 0:
        return out
    return transform_plan(grid, (n_x, n_y), precision, device)(images, out)


def transform_plan(
    grid: PolarGrid,
    shape: tuple[int, int],
    precision: Precision = "single",
    device: str | torch.device = "cpu",
) -> PolarTransform:
    """The cached plan for ``grid``, image ``shape``, ``precision`` and ``device``.

    Built on first use (once, even when several threads ask at the same time); the
    :data:`MAX_PLANS` most recently used plans are kept.
    """
    torch_device = resolve_device(device)
    key: _PlanKey = (
        float(grid.radius_max),
        float(grid.dist_radii),
        int(grid.n_inplanes),
        (int(shape[0]), int(shape[1])),
        precision,
        str(torch_device),
    )
    with _LOCK:
        if key in _PLANS:
            _PLANS.move_to_end(key)
            return _PLANS[key]
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:
        with _LOCK:
            if key in _PLANS:
                return _PLANS[key]
        plan = _build_plan(grid, shape, precision, torch_device)
        with _LOCK:
            _PLANS[key] = plan
            while len(_PLANS) > MAX_PLANS:
                _PLANS.popitem(last=False)
            _BUILDING.pop(key, None)
    return plan


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device, checked: ``'cpu'`` or an available CUDA device.

    Raises
    ------
    DeviceError
        For any other device, or a CUDA device this machine or torch build lacks.
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise DeviceError(
            f"device {device!r} is not a torch device; use 'cpu' or 'cuda'"
        ) from error
    if resolved.type == "cpu":
        return resolved
    if resolved.type != "cuda":
        raise DeviceError(f"device {device!r} is not supported; use 'cpu' or 'cuda'")
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {device!r} requested, but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); install a CUDA build of torch or use 'cpu'"
        )
    if (resolved.index or 0) >= torch.cuda.device_count():
        raise DeviceError(
            f"device {device!r} requested, but torch sees "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    return resolved


def clear_plans() -> None:
    """Drop every cached plan (and the memory its weights hold)."""
    with _LOCK:
        _PLANS.clear()


def _build_plan(
    grid: PolarGrid, shape: tuple[int, int], precision: Precision, device: torch.device
) -> PolarTransform:
    if precision == "double" and device.type == "cpu":
        return DuccPolarTransform(grid, shape)
    return SparsePolarTransform(grid, shape, precision, device)
