"""cryolike: CryoSPARC and RELION particle stacks → CryoLike Fourier polar-grid stacks."""

from importlib import metadata as _metadata

from .compat import (
    convert_particle_stacks_from_cryosparc_job_directory,
    convert_particle_stacks_from_indexed_cryosparc,
    convert_particle_stacks_from_indexed_cryosparc_file,
    convert_particle_stacks_from_indexed_star_file,
    convert_particle_stacks_from_paired_star_and_mrc_files,
)
from .errors import ConversionError
from .image_descriptor import ImageDescriptor
from .metadata import ParticleMetadata
from .options import ConversionOptions
from .pipeline import ConversionReport, run
from .polar import PolarGrid

try:
    __version__ = _metadata.version("cryolike")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "unknown"

__all__ = [
    "ConversionError",
    "ConversionOptions",
    "ConversionReport",
    "ImageDescriptor",
    "ParticleMetadata",
    "PolarGrid",
    "__version__",
    "convert_particle_stacks_from_cryosparc_job_directory",
    "convert_particle_stacks_from_indexed_cryosparc",
    "convert_particle_stacks_from_indexed_cryosparc_file",
    "convert_particle_stacks_from_indexed_star_file",
    "convert_particle_stacks_from_paired_star_and_mrc_files",
    "run",
]
