"""``python -m cryolike_convert``: the command line."""

from cryolike_convert.cli.app import app

app(prog_name="cryolike-convert")
