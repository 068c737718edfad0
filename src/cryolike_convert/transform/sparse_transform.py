"""The polar transform on torch: deconvolve, pad, ``rfft2``, one sparse matrix product.

The same code runs on CPU and CUDA. The interpolation matrix and deconvolution
factors (:mod:`cryolike_convert.transform.interpolation`) are computed once per grid
in float64 and stored in the working precision on the device. Each image is
transformed on its own (no packing with a partner), and each step's result for one
image does not depend on the other images in the batch, so the output bytes do not
depend on how a stack is split into blocks.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import scipy.sparse
import torch

from cryolike_convert.transform.interpolation import (
    build_interpolation,
    deconvolution_factors,
    fine_shape,
)
from cryolike_convert.transform.polar_grid import PolarGrid, pixel_frequencies
from cryolike_convert.transform.precision import Precision, real_dtype, torch_dtypes
from cryolike_convert.transform.spreading_kernel import KERNELS

#: Bytes of padded fine grid per internal batch; bounds each thread's workspace
#: (about four such buffers) whatever the block size.
BATCH_BYTES = 16 << 20
#: Most images per internal batch (a call on fewer images still runs a full batch;
#: 16–32 measured fastest at boxes 128–256).
MAX_BATCH = 32
#: Points per shell tile of the output transposition.
_TILE_POINTS = 1024


class SparsePolarTransform:
    """Images of one shape → their Fourier transform on one polar grid, on a device.

    ``F[m, s, t] = c * sum_{a,b} I[m,a,b] exp(-i (k1 a' + k2 b'))`` with CryoLike's
    mapping (:func:`~cryolike_convert.transform.polar_grid.pixel_frequencies`) and
    ``c = 4 pi / sqrt(n_x n_y)``. With an even number of angles only the first half
    of each shell is interpolated: slot ``t + T/2`` is ``-k``, whose value is the
    complex conjugate for a real image. Calls are thread-safe: the plan is read-only
    and each thread keeps its own workspace.

    Parameters
    ----------
    grid
        The polar grid.
    shape
        Image shape ``(n_x, n_y)``.
    precision
        ``'single'`` computes in float32/complex64, ``'double'`` in float64/complex128.
    device
        A torch device (``'cpu'``, ``'cuda'``, ``'cuda:1'``...).
    """

    def __init__(
        self,
        grid: PolarGrid,
        shape: tuple[int, int],
        precision: Precision,
        device: str | torch.device = "cpu",
    ) -> None:
        kernel = KERNELS[precision]
        self.shape = shape
        self.precision: Precision = precision
        self.device = torch.device(device)
        self.fine_shape = fine_shape(shape, kernel)
        self.n_shells, self.n_angles = grid.n_shells, grid.n_inplanes
        self.mirrored = self.n_angles % 2 == 0
        self.n_direct = self.n_angles // 2 if self.mirrored else self.n_angles
        k1, k2 = pixel_frequencies(grid, shape)
        direct = (np.arange(self.n_shells)[:, None] * self.n_angles) + np.arange(
            self.n_direct
        )
        interpolation = build_interpolation(
            k1[direct.ravel()],
            k2[direct.ravel()],
            shape,
            kernel,
            real_dtype(precision).type,
        )
        self.matrix = _csr_tensor(interpolation.matrix, self.device)
        self.low_columns = interpolation.low_columns
        self.n_columns = interpolation.n_columns
        self._fill = _ExtensionFill(self.fine_shape, self.low_columns, self.n_columns)
        self._fill_tensors = self._fill.tensors(self.device)
        scale = 4 * np.pi / np.sqrt(shape[0] * shape[1])
        self.deconvolution = torch.from_numpy(
            scale * deconvolution_factors(shape, kernel)
        ).to(device=self.device, dtype=torch_dtypes(precision)[0])
        itemsize = real_dtype(precision).itemsize
        per_image = self.fine_shape[0] * self.fine_shape[1] * itemsize
        self.batch_size = min(MAX_BATCH, max(1, BATCH_BYTES // per_image))
        self._local = threading.local()

    def __call__(self, images: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (``(n_images, n_shells, n_angles)``, complex) and return it.

        Parameters
        ----------
        images
            Real images ``(n_images, n_x, n_y)``, any real dtype.
        out
            C-contiguous result array of the precision's complex dtype.
        """
        for start in range(0, len(images), self.batch_size):
            stop = min(start + self.batch_size, len(images))
            self._transform_batch(images[start:stop], out[start:stop])
        return out

    def _transform_batch(self, images: np.ndarray, out: np.ndarray) -> None:
        """Transform up to :attr:`batch_size` images.

        Every library call sees the full batch: MKL's sparse product picks its
        kernel, and with it the rounding, by the number of dense columns. Slots past
        ``len(images)`` hold stale images whose results are dropped; each column's
        result is independent of the others' values.
        """
        n_images, size = len(images), self.batch_size
        work = self._workspace()
        padded = work["padded"]
        self._pad(
            _as_tensor(images, real_dtype(self.precision).type), padded[:n_images]
        )
        spectrum = work["spectrum"]
        torch.fft.rfft2(padded, out=spectrum)
        dense = work["dense"].view(self.fine_shape[0], self.n_columns, size)
        low, half = self.low_columns, spectrum.shape[-1]
        dense[:, low : low + half].copy_(spectrum.permute(1, 2, 0))
        self._fill.apply(dense, self._fill_tensors)
        product = work["product"]
        torch.mm(
            self.matrix, torch.view_as_real(dense).reshape(-1, 2 * size), out=product
        )
        values = torch.view_as_complex(product.view(-1, size, 2))[:, :n_images]
        host = values.cpu().numpy()
        self._scatter(host.reshape(self.n_shells, self.n_direct, n_images), out)

    def _scatter(self, values: np.ndarray, out: np.ndarray) -> None:
        """Write ``values`` (``(n_shells, n_direct, n_images)``) into ``out``.

        The transposition runs a few shells at a time, so each tile stays in cache
        while it is copied and mirrored.
        """
        step = max(1, _TILE_POINTS // self.n_direct)
        for start in range(0, self.n_shells, step):
            shells = slice(start, start + step)
            direct = out[:, shells, : self.n_direct]
            direct[...] = values[shells].transpose(2, 0, 1)
            if self.mirrored:
                np.conjugate(direct, out=out[:, shells, self.n_direct :])

    def _workspace(self) -> dict[str, torch.Tensor]:
        """Buffers of the calling thread, allocated on first use (padding stays zero)."""
        work: dict[str, torch.Tensor] | None = getattr(self._local, "work", None)
        if work is None:
            real, complex_ = torch_dtypes(self.precision)
            fine_x, fine_y = self.fine_shape
            size = self.batch_size
            work = {
                "padded": torch.zeros(
                    (size, fine_x, fine_y), dtype=real, device=self.device
                ),
                "spectrum": torch.empty(
                    (size, fine_x, fine_y // 2 + 1), dtype=complex_, device=self.device
                ),
                "dense": torch.empty(
                    fine_x * self.n_columns * size, dtype=complex_, device=self.device
                ),
                "product": torch.empty(
                    (self.matrix.shape[0], 2 * size), dtype=real, device=self.device
                ),
            }
            self._local.work = work
        return work

    def _pad(self, images: torch.Tensor, padded: torch.Tensor) -> None:
        """Deconvolve into ``padded`` with pixel ``a'`` at index ``a' mod n_fine``.

        Only the four corner blocks are written; the rest of the buffer stays zero.
        """
        images = images.to(device=self.device, dtype=padded.dtype)
        (n_x, n_y), (fine_x, fine_y) = self.shape, self.fine_shape
        half_x, half_y = n_x // 2, n_y // 2
        for source_x, target_x in (
            (slice(half_x, n_x), slice(0, n_x - half_x)),
            (slice(0, half_x), slice(fine_x - half_x, fine_x)),
        ):
            for source_y, target_y in (
                (slice(half_y, n_y), slice(0, n_y - half_y)),
                (slice(0, half_y), slice(fine_y - half_y, fine_y)),
            ):
                torch.mul(
                    images[:, source_x, source_y],
                    self.deconvolution[source_x, source_y],
                    out=padded[:, target_x, target_y],
                )


def _as_tensor(images: np.ndarray, dtype: type[np.floating]) -> torch.Tensor:
    """A host tensor sharing ``images`` when it is C-contiguous, writable ``dtype``."""
    array = np.ascontiguousarray(images, dtype=dtype)
    if not array.flags.writeable:  # torch warns on (and may not share) read-only data
        array = array.copy()
    return torch.from_numpy(array)


def _csr_tensor(matrix: scipy.sparse.csr_matrix, device: torch.device) -> torch.Tensor:
    """``matrix`` as a torch CSR tensor on ``device``."""
    with warnings.catch_warnings():
        # torch warns once per process that CSR support is "beta"; the operations
        # used here (construction, CSR @ dense on CPU and CUDA) are long established.
        warnings.filterwarnings(
            "ignore",
            message="Sparse CSR tensor support is in beta",
            category=UserWarning,
        )
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr),
            torch.from_numpy(matrix.indices),
            torch.from_numpy(matrix.data),
            size=matrix.shape,
            device=device,
            check_invariants=False,
        )


class _ExtensionFill:
    """Fills the extended half spectrum's columns outside ``0 <= j2 <= n_fine_y/2``.

    A column ``j2`` whose ``j2 mod n_fine_y`` lies in the half spectrum is a copy of
    that column; otherwise it is ``conj G[-j1, n_fine_y - (j2 mod n_fine_y)]``.
    """

    def __init__(
        self, fine_shape: tuple[int, int], low_columns: int, n_columns: int
    ) -> None:
        fine_x, fine_y = fine_shape
        half = fine_y // 2 + 1
        copies: tuple[list[int], list[int]] = ([], [])
        mirrors: tuple[list[int], list[int]] = ([], [])
        for column in range(n_columns):
            j2 = column - low_columns
            if 0 <= j2 < half:
                continue
            wrapped = j2 % fine_y
            if wrapped < half:
                copies[0].append(column)
                copies[1].append(low_columns + wrapped)
            else:
                mirrors[0].append(column)
                mirrors[1].append(low_columns + fine_y - wrapped)
        self.copies = copies
        self.mirrors = mirrors
        self.mirror_rows = (-np.arange(fine_x)) % fine_x

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Index tensors on ``device``."""

        def index(values: list[int] | np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values, dtype=np.int64), device=device)

        return {
            "copy_target": index(self.copies[0]),
            "copy_source": index(self.copies[1]),
            "mirror_target": index(self.mirrors[0]),
            "mirror_source": index(self.mirrors[1]),
            "mirror_rows": index(self.mirror_rows),
        }

    def apply(self, dense: torch.Tensor, tensors: dict[str, torch.Tensor]) -> None:
        """Fill the extension columns of ``dense`` (``(n_fine_x, n_columns, n)``)."""
        if self.copies[0]:
            dense[:, tensors["copy_target"]] = dense[:, tensors["copy_source"]]
        if self.mirrors[0]:
            mirrored = dense[:, tensors["mirror_source"]].index_select(
                0, tensors["mirror_rows"]
            )
            dense[:, tensors["mirror_target"]] = torch.conj_physical(mirrored)
