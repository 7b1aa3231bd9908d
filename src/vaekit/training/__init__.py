"""Training: the loop, checkpoints, resume, progress and the metrics log."""
