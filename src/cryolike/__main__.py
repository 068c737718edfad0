"""``python -m cryolike``: the command line."""

from .cli import app

app(prog_name="cryolike")
