"""Benchmark: what the token cache, length-grouped batches and the feature cache save.

    python tests/benchmarks/bench_data_path.py [--model minilm_l3] [--epochs 1] [--trainer]

Prints a table of measured seconds (one process, so the ratios are comparable on a noisy machine).
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def compose(*overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def train_epoch(model, loader) -> float:
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for batch in loader:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        loss_fn(logits, batch["labels"]).backward()
        optimizer.step()
        optimizer.zero_grad()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="minilm_l3")
    parser.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one)")
    parser.add_argument("--trainer", action="store_true", help="also time Hugging Face Trainer on the same epoch")
    args = parser.parse_args()

    from torch.utils.data import DataLoader

    from sweep.data.features import cached_features, compute_features
    from sweep.data.loaders import PadCollator, TokenDataset, train_loader
    from sweep.data.tasks import load_splits
    from sweep.data.tokens import tokenize, tokenizer_fingerprint
    from sweep.models.classifier import SequenceClassifier
    from sweep.pipeline.validate import validate
    from sweep.runtime.console import quiet_libraries
    from sweep.zoo.loader import load_backbone, load_tokenizer

    quiet_libraries()
    cache = Path(args.cache or tempfile.mkdtemp(prefix="sweep-bench-"))
    job = validate(compose(f"model={args.model}", f"paths.cache_dir={cache}"))
    root = job.root
    rows: list[tuple[str, float]] = []

    splits = load_splits(root.task)
    tokenizer = load_tokenizer(root.model, cache)
    fingerprint = tokenizer_fingerprint(tokenizer)

    def tokenize_all():
        return [
            tokenize(s.inputs, s.labels, tokenizer, root.task.max_length, cache, fingerprint)
            for s in (splits.train, splits.val, splits.test)
        ]

    cold, parts = timed(tokenize_all)
    warm, again = timed(tokenize_all)
    assert not any(hit for _, hit in parts) and all(hit for _, hit in again)
    rows += [("tokenize train+val+test, cold", cold), ("tokenize train+val+test, cache hit", warm)]
    train = parts[0][0]
    pad = tokenizer.pad_token_id

    def fresh_model():
        torch.manual_seed(0)
        backbone = load_backbone(root.model, cache, len(tokenizer))
        return SequenceClassifier(backbone, backbone.config.hidden_size, 2, "mean", 0.1)

    class PadToMax(PadCollator):
        def __call__(self, batch):
            out = super().__call__(batch)
            extra = root.task.max_length - out["input_ids"].size(1)
            out["input_ids"] = torch.nn.functional.pad(out["input_ids"], (0, extra), value=self.pad_id)
            out["attention_mask"] = torch.nn.functional.pad(out["attention_mask"], (0, extra))
            return out

    generator = torch.Generator().manual_seed(0)
    loaders = {
        "epoch, pad to max_length, random batches": DataLoader(
            TokenDataset(train), 32, shuffle=True, collate_fn=PadToMax(pad), generator=generator
        ),
        "epoch, dynamic padding, random batches": DataLoader(
            TokenDataset(train), 32, shuffle=True, collate_fn=PadCollator(pad), generator=generator
        ),
        "epoch, dynamic padding, length-grouped (sweep)": train_loader(train, 32, pad, seed=0),
    }
    for name, loader in loaders.items():
        padded = sum(batch["input_ids"].numel() for batch in loader)
        rows.append((f"{name} [{padded:,} token slots]", train_epoch(fresh_model(), loader)))

    model = fresh_model()
    model.eval()
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    backbone_id = f"bench-{args.model}"
    cold, _ = timed(lambda: cached_features(model, train, 128, pad, cache, backbone_id))
    warm, _ = timed(lambda: cached_features(model, train, 128, pad, cache, backbone_id))
    per_epoch, _ = timed(lambda: compute_features(model, train, 32, pad))
    rows += [
        ("frozen features of train, computed once (cold)", cold),
        ("frozen features of train, cache hit (next job)", warm),
        ("frozen backbone recomputed, per epoch, batch 32", per_epoch),
    ]

    if args.trainer:
        rows.append(("HF Trainer epoch, group_by_length, AutoModelForSequenceClassification", trainer_epoch(root, cache, splits)))

    width = max(len(name) for name, _ in rows)
    print(f"\n{args.model}: {len(train)} train rows, batch 32, max length {root.task.max_length}, torch threads {torch.get_num_threads()}")
    for name, seconds in rows:
        print(f"  {name:<{width}}  {seconds:8.2f} s")


def trainer_epoch(root, cache, splits) -> float:
    """The same epoch through Hugging Face Trainer, the tool a user would reach for instead."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    from sweep.zoo.loader import resolve_source

    path = resolve_source(root.model.source, "model.source", cache)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    encoded = tokenizer(splits.train.inputs, truncation=True, max_length=root.task.max_length)
    data = [{"input_ids": ids, "labels": int(label)} for ids, label in zip(encoded["input_ids"], splits.train.labels)]
    arguments = TrainingArguments(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=32,
        num_train_epochs=1,
        learning_rate=5e-5,
        train_sampling_strategy="group_by_length",
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer))
    seconds, _ = timed(trainer.train)
    return seconds


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
