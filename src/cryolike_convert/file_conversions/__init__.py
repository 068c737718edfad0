"""CryoLike's documented import path for the conversion wrappers."""

from cryolike_convert.file_conversions import particle_stacks_wrappers
from cryolike_convert.file_conversions.particle_stacks_wrappers import *  # noqa: F403 - the same names, by design

__all__ = particle_stacks_wrappers.__all__
