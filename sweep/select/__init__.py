"""``python -m sweep.select``: rank pretrained candidates by how well their frozen features fit a task,
in seconds, before fine-tuning any of them (LogME, H-score, a k-NN probe; sweep/select/scores.py)."""

from sweep.select.logme import logme

__all__ = ["logme"]
