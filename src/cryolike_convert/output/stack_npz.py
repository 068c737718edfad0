"""The per-stack npz that CryoLike reads: its keys, which may be None, dtypes and shapes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryolike_convert.formats.npz import OBJECT_MEMBER, none_array
from cryolike_convert.image_descriptor import DESCRIPTOR_KEYS, ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata


@dataclass(frozen=True, slots=True)
class LensKey:
    """One of the 15 lens keys CryoLike writes next to the 11 descriptor keys.

    Attributes
    ----------
    name
        CryoLike's key.
    column
        The :class:`ParticleMetadata` column it is written from (``None``: the
        reference pixel size, a value of the run, not of a row).
    kinds
        The dtype kinds a reader accepts.
    shape
        The member's shape; ``"n"`` stands for the stack's image count. A shape
        of ``()`` is a scalar: the run's single value of the column.
    may_be_none
        Whether the key may hold ``None`` (a 0-d object array).
    """

    name: str
    column: str | None
    kinds: str
    shape: tuple[int | str, ...]
    may_be_none: bool = False


#: The lens keys: this one table drives the writer, :func:`member_problem` and tests.
LENS_TABLE: tuple[LensKey, ...] = (
    LensKey("defocusU", "defocus_u_angstrom", "f", ("n",)),
    LensKey("defocusV", "defocus_v_angstrom", "f", ("n",)),
    LensKey("defocusAngle", "defocus_angle_rad", "f", ("n",)),
    LensKey("phaseShift", "phase_shift_rad", "f", ("n",)),
    LensKey("sphericalAberration", "spherical_aberration_mm", "f", ()),
    LensKey("voltage", "voltage_kv", "f", ()),
    LensKey("amplitudeContrast", "amplitude_contrast_fraction", "f", ()),
    LensKey("angleRotation", "angle_rotation_rad", "f", ("n",), may_be_none=True),
    LensKey("angleTilt", "angle_tilt_rad", "f", ("n",), may_be_none=True),
    LensKey("anglePsi", "angle_psi_rad", "f", ("n",), may_be_none=True),
    LensKey("ref_pixel_size", None, "f", (2,), may_be_none=True),
    LensKey("files", "stored_path", "US", ("n",)),
    LensKey("idxs", "stored_index", "iu", ("n",)),
    LensKey("ctfBfactor", "ctf_bfactor", "f", ("n",), may_be_none=True),
    LensKey("ctfScalefactor", "ctf_scalefactor", "f", ("n",), may_be_none=True),
)
#: The 15 lens keys, in CryoLike's order.
LENS_KEYS: tuple[str, ...] = tuple(key.name for key in LENS_TABLE)
#: Every key a stack's npz must hold.
REQUIRED_NPZ_KEYS: tuple[str, ...] = (*DESCRIPTOR_KEYS, *LENS_KEYS, "n_images")
#: Keys that may hold ``None`` (a 0-d object array).
MAY_BE_NONE = frozenset(
    {"atom_radii", *(key.name for key in LENS_TABLE if key.may_be_none)}
)
#: Expected dtype kinds and shapes; ``"n"`` stands for the stack's image count.
NPZ_LAYOUT: dict[str, tuple[str, tuple[int | str, ...]]] = {
    **{key.name: (key.kinds, key.shape) for key in LENS_TABLE},
    "n_images": ("iu", ()),
}


def stack_npz_arrays(
    descriptor: ImageDescriptor,
    rows: ParticleMetadata,
    reference_pixel_size: float | None,
    stack_range: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """The per-stack npz: 11 descriptor keys, 15 lens keys, counts and provenance.

    Grid keys are copied bit for bit from the params file; per-image lens arrays
    hold exactly this stack's images, in their source dtype.
    """
    arrays: dict[str, np.ndarray] = {
        key: descriptor.arrays[key] for key in DESCRIPTOR_KEYS
    }
    for key in LENS_TABLE:
        arrays[key.name] = _lens_value(key, rows, reference_pixel_size)
    arrays["n_images"] = np.array(len(rows), dtype=np.int64)
    if stack_range is not None:
        arrays["stack_start"] = np.array(stack_range[0], dtype=np.int64)
        arrays["stack_end"] = np.array(stack_range[1], dtype=np.int64)
    arrays["source_row"] = rows.source_row.astype(np.int64)
    if rows.uid is not None:
        arrays["source_uid"] = rows.uid.astype(np.uint64)
    arrays["source_file"] = rows.stack_paths()
    arrays["source_index"] = rows.stack_index.astype(np.int64)
    return arrays


def _lens_value(
    key: LensKey, rows: ParticleMetadata, reference_pixel_size: float | None
) -> np.ndarray:
    if key.column is None:
        if reference_pixel_size is None:
            return none_array()
        return np.full(2, reference_pixel_size, dtype=np.float64)
    values: np.ndarray | None = getattr(rows, key.column)
    if values is None:
        return none_array()
    if key.shape == ():
        return np.array(float(values[0]) if len(values) else np.nan, dtype=np.float64)
    return values


def same_bits(left: np.ndarray, right: np.ndarray) -> bool:
    """Same dtype, shape and bytes (how CryoLike compares grid values)."""
    return (
        left.dtype == right.dtype
        and left.shape == right.shape
        and left.tobytes() == right.tobytes()
    )


def member_problem(key: str, value: object, n_images: int) -> str | None:
    """What is wrong with one npz member (as read by ``read_npz_safely``), or None."""
    if value is OBJECT_MEMBER:
        return None if key in MAY_BE_NONE else "holds a Python object"
    if not isinstance(value, np.ndarray):
        return "is not an array"
    if key not in NPZ_LAYOUT:
        return None
    kinds, shape = NPZ_LAYOUT[key]
    wanted = tuple(n_images if size == "n" else size for size in shape)
    if value.dtype.kind not in kinds or value.shape != wanted:
        return f"is {value.dtype} {value.shape}; expected kind {kinds!r} {wanted}"
    return None


__all__ = [
    "LENS_KEYS",
    "LENS_TABLE",
    "MAY_BE_NONE",
    "NPZ_LAYOUT",
    "REQUIRED_NPZ_KEYS",
    "LensKey",
    "member_problem",
    "same_bits",
    "stack_npz_arrays",
]
