"""Pipeline stages: one module per dvc.yaml stage and MLproject entry point. Each is thin: it reads its section of
params.yaml, calls library code, and writes its outputs plus a flat metrics JSON."""
