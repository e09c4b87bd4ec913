"""Dataset extraction, training and evaluation (needs the `train` extra)."""
