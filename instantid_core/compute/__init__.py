"""The math: resampler, identity tokens and per-layer K/V, identity attention, the adapter's layer map, the
keypoint image, and the precision policy (where and in which dtype each of these computes)."""
