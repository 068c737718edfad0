"""The ``cryolike-convert`` command line (all printing lives here)."""
