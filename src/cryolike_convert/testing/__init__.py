"""Small synthetic-data factories for tests, documentation and the bundled example.

Everything is drawn from a fixed seed, so the same call always writes the same bytes.
"""

from cryolike_convert.testing.cryosparc import (
    CS_CTF_DTYPE,
    ExampleJob,
    ExampleProject,
    cs_table,
    make_cryosparc_job,
    make_cryosparc_project,
    write_cs,
)
from cryolike_convert.testing.ctf import (
    Optics,
    make_ctf_cryosparc_project,
    make_ctf_projections,
)
from cryolike_convert.testing.images import (
    make_projections,
    random_rotations,
    write_mrc_stack,
)
from cryolike_convert.testing.relion import (
    RelionProject,
    cs_table_to_star,
    make_relion_project,
    star_particle_rows,
    write_paired_star_inputs,
    write_star,
)

__all__ = [
    "CS_CTF_DTYPE",
    "ExampleJob",
    "ExampleProject",
    "Optics",
    "RelionProject",
    "cs_table",
    "cs_table_to_star",
    "make_cryosparc_job",
    "make_cryosparc_project",
    "make_ctf_cryosparc_project",
    "make_ctf_projections",
    "make_projections",
    "make_relion_project",
    "random_rotations",
    "star_particle_rows",
    "write_cs",
    "write_mrc_stack",
    "write_paired_star_inputs",
    "write_star",
]
