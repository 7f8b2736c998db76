"""``python -m sweep.pretrain``: pre-training (masked, causal, span-corruption LM) on a task's texts, the
first half of "pre-train, then fine-tune". See sweep/pretrain/__main__.py and docs/pretraining.md."""
