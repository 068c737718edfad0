"""The installed version of cryolike-convert (imports nothing of ours)."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("cryolike-convert")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "unknown"

__all__ = ["__version__"]
