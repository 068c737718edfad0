"""CryoSPARC inputs: ``.cs`` containers, sibling joins, indexed files and job folders."""
