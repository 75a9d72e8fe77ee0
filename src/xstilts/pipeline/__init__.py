"""Pipeline glue: MLflow (tracking, the only module that talks to it), Optuna (tuning, the only one that talks to
it), DVC lock checks, how a stage runs as a program, and the shared fine-tune-one-cell helper."""
