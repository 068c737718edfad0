"""Re-export of :mod:`cryolike_convert.compat` under CryoLike's module path."""

from cryolike_convert.compat import (
    convert_particle_stacks_from_cryosparc_job_directory,
    convert_particle_stacks_from_indexed_cryosparc,
    convert_particle_stacks_from_indexed_cryosparc_file,
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
