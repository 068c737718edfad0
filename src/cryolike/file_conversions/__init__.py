"""CryoLike's documented import path for the conversion wrappers."""

from .particle_stacks_wrappers import (
    convert_particle_stacks_from_cryosparc_job_directory,
    convert_particle_stacks_from_indexed_cryosparc,
    convert_particle_stacks_from_indexed_cryosparc_file,
)

__all__ = [
    "convert_particle_stacks_from_cryosparc_job_directory",
    "convert_particle_stacks_from_indexed_cryosparc",
    "convert_particle_stacks_from_indexed_cryosparc_file",
]
