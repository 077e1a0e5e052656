"""Runtime code shared by every Lambda bundle and container image (copied in at synth time)."""
