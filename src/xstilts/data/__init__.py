"""Data: canonical schemas, sources (synthetic, hub), subsampling."""
