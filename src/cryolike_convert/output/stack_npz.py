"""The per-stack npz that CryoLike reads: its keys, which may be None, dtypes and shapes."""

from __future__ import annotations

import numpy as np

from cryolike_convert.formats.npz import OBJECT_MEMBER
from cryolike_convert.image_descriptor import DESCRIPTOR_KEYS

#: The 15 lens keys CryoLike writes next to the 11 descriptor keys.
LENS_KEYS: tuple[str, ...] = (
    "defocusU",
    "defocusV",
    "defocusAngle",
    "phaseShift",
    "sphericalAberration",
    "voltage",
    "amplitudeContrast",
    "angleRotation",
    "angleTilt",
    "anglePsi",
    "ref_pixel_size",
    "files",
    "idxs",
    "ctfBfactor",
    "ctfScalefactor",
)
#: Every key a stack's npz must hold.
REQUIRED_NPZ_KEYS: tuple[str, ...] = (*DESCRIPTOR_KEYS, *LENS_KEYS, "n_images")
#: Keys that may hold ``None`` (a 0-d object array).
MAY_BE_NONE = frozenset(
    {
        "atom_radii",
        "angleRotation",
        "angleTilt",
        "anglePsi",
        "ref_pixel_size",
        "ctfBfactor",
        "ctfScalefactor",
    }
)
#: Expected dtype kinds and shapes; ``"n"`` stands for the stack's image count.
NPZ_LAYOUT: dict[str, tuple[str, tuple[int | str, ...]]] = {
    "defocusU": ("f", ("n",)),
    "defocusV": ("f", ("n",)),
    "defocusAngle": ("f", ("n",)),
    "phaseShift": ("f", ("n",)),
    "sphericalAberration": ("f", ()),
    "voltage": ("f", ()),
    "amplitudeContrast": ("f", ()),
    "angleRotation": ("f", ("n",)),
    "angleTilt": ("f", ("n",)),
    "anglePsi": ("f", ("n",)),
    "ref_pixel_size": ("f", (2,)),
    "files": ("US", ("n",)),
    "idxs": ("iu", ("n",)),
    "ctfBfactor": ("f", ("n",)),
    "ctfScalefactor": ("f", ("n",)),
    "n_images": ("iu", ()),
}


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
    "MAY_BE_NONE",
    "NPZ_LAYOUT",
    "REQUIRED_NPZ_KEYS",
    "member_problem",
    "same_bits",
]
