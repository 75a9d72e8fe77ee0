"""Fine-tuning and pretraining: the encoder and its heads, the training loop, per-task hyperparameters, masked-LM
pretraining, checkpoints, data parallelism, the tokenised-feature cache and the degenerate-model rule."""
