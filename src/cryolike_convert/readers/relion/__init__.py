"""RELION inputs: the label table, STAR blocks, indexed and paired STAR files."""
