"""The core every layer reads: the task registry, params.yaml and its validation, file I/O and hashes, the cell
name, the metrics, manual inputs, the code version and the portable CPU kernel pins. Imports nothing above it."""
