"""Training: tasks (datasets), models (the batched MLP), trainer (the one loop), experiments
(kinds and their settings), config (reading content/experiments.toml), bench."""
