"""cryolike_convert: CryoSPARC and RELION particle stacks → CryoLike Fourier polar-grid stacks."""

from cryolike_convert.compat import (
    convert_particle_stacks_from_cryosparc_job_directory,
    convert_particle_stacks_from_indexed_cryosparc,
    convert_particle_stacks_from_indexed_cryosparc_file,
    convert_particle_stacks_from_indexed_star_file,
    convert_particle_stacks_from_indexed_star_files,
    convert_particle_stacks_from_paired_star_and_mrc_files,
)
from cryolike_convert.errors import ConversionError
from cryolike_convert.execution.pipeline import ConversionReport, run
from cryolike_convert.image_descriptor import DerivedGrid, ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import ConversionOptions
from cryolike_convert.transform.polar_grid import PolarGrid
from cryolike_convert.version import __version__

__all__ = [
    "ConversionError",
    "ConversionOptions",
    "ConversionReport",
    "DerivedGrid",
    "ImageDescriptor",
    "ParticleMetadata",
    "PolarGrid",
    "__version__",
    "convert_particle_stacks_from_cryosparc_job_directory",
    "convert_particle_stacks_from_indexed_cryosparc",
    "convert_particle_stacks_from_indexed_cryosparc_file",
    "convert_particle_stacks_from_indexed_star_file",
    "convert_particle_stacks_from_indexed_star_files",
    "convert_particle_stacks_from_paired_star_and_mrc_files",
    "run",
]
