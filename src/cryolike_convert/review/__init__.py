"""Reading a finished output folder back: summary, overview plots, verification."""
