"""The polar transform in double precision on CPU: ``ducc0.nufft.u2nu`` per image.

Double precision needs a kernel twice as wide as single, whose interpolation matrix
would cost hundreds of MB at large boxes; ducc0 evaluates the kernel on the fly
instead. Each image is its own complex transform (no packing with a partner), the
library runs single-threaded and chooses its kernel and FFT sizes from the problem's
sizes alone, so the bytes depend only on the image.
"""

from __future__ import annotations

import ducc0
import numpy as np

from cryolike_convert.transform.polar_grid import PolarGrid, pixel_frequencies

#: ducc0's tolerance: measured 1.5e-13 relative at boxes 32–320.
EPSILON = 1e-12
#: Images per ducc0 call; bounds the complex128 copy of the input.
_BATCH_BYTES = 32 << 20


class DuccPolarTransform:
    """Images of one shape → their Fourier transform on one polar grid (complex128).

    Same definition as
    :class:`~cryolike_convert.transform.sparse_transform.SparsePolarTransform`;
    with an even number of angles, slot ``t + T/2`` is the complex conjugate of slot
    ``t``. Calls are thread-safe.

    Parameters
    ----------
    grid
        The polar grid.
    shape
        Image shape ``(n_x, n_y)``.
    """

    def __init__(self, grid: PolarGrid, shape: tuple[int, int]) -> None:
        self.shape = shape
        self.n_shells, self.n_angles = grid.n_shells, grid.n_inplanes
        self.mirrored = self.n_angles % 2 == 0
        self.n_direct = self.n_angles // 2 if self.mirrored else self.n_angles
        k1, k2 = pixel_frequencies(grid, shape)
        k1 = k1.reshape(self.n_shells, self.n_angles)[:, : self.n_direct]
        k2 = k2.reshape(self.n_shells, self.n_angles)[:, : self.n_direct]
        self.coordinates = np.stack([k1.ravel(), k2.ravel()], axis=-1)
        self.scale = 4 * np.pi / np.sqrt(shape[0] * shape[1])
        self.batch_size = max(1, _BATCH_BYTES // (16 * shape[0] * shape[1]))

    def __call__(self, images: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (``(n_images, n_shells, n_angles)``, complex128) and return it.

        Parameters
        ----------
        images
            Real images ``(n_images, n_x, n_y)``, any real dtype.
        out
            C-contiguous complex128 result array.
        """
        for start in range(0, len(images), self.batch_size):
            block = images[start : start + self.batch_size]
            values = ducc0.nufft.u2nu(
                grid=block.astype(np.complex128),
                coord=self.coordinates,
                forward=True,
                epsilon=EPSILON,
                nthreads=1,
            )
            values *= self.scale
            target = out[start : start + len(block)]
            direct = values.reshape(len(block), self.n_shells, self.n_direct)
            target[..., : self.n_direct] = direct
            if self.mirrored:
                np.conjugate(direct, out=target[..., self.n_direct :])
        return out
