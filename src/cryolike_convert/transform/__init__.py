"""Pure array math: the polar grid, preprocessing and the Fourier transform engine."""
