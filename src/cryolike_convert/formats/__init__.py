"""Leaf file formats: npz without pickle, the streamed ``.pt`` tensor file, atomic writes."""
