"""CryoLike-named wrappers: each maps the reference's arguments onto one reader and ``run``."""

from cryolike_convert.compat.cryosparc import (
    convert_particle_stacks_from_cryosparc_job_directory,
    convert_particle_stacks_from_indexed_cryosparc,
    convert_particle_stacks_from_indexed_cryosparc_file,
)
from cryolike_convert.compat.relion import (
    convert_particle_stacks_from_indexed_star_file,
    convert_particle_stacks_from_indexed_star_files,
    convert_particle_stacks_from_paired_star_and_mrc_files,
)

__all__ = [
    "convert_particle_stacks_from_cryosparc_job_directory",
    "convert_particle_stacks_from_indexed_cryosparc",
    "convert_particle_stacks_from_indexed_cryosparc_file",
    "convert_particle_stacks_from_indexed_star_file",
    "convert_particle_stacks_from_indexed_star_files",
    "convert_particle_stacks_from_paired_star_and_mrc_files",
]
