"""Analysis of trained models: Fourier basis and key frequencies (fourier)."""
