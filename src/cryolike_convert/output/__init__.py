"""The on-disk output: layout, the per-stack npz contract, the manifest, re-runs, plots."""
