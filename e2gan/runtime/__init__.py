"""Step 4, Ship: one concept running fast on many images or frames (PyTorch or an exported runtime), exports,
video, and the local web page."""
