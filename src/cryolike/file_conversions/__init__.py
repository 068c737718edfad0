"""CryoLike's documented import path for the conversion wrappers."""

from . import particle_stacks_wrappers
from .particle_stacks_wrappers import *  # noqa: F403 - the same names, by design

__all__ = particle_stacks_wrappers.__all__
