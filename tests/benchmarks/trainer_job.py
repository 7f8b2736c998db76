"""The other side of ``trial_vs_trainer`` (perf_trainer.py): one Hugging Face Trainer job, as a user writes it.

    python -m tests.benchmarks.trainer_job --csv split.csv --model <HF folder> --eval-steps N [--bf16] --out result.json

Reads the split CSV (columns text, label, split) the sweep side reads, fine-tunes
AutoModelForSequenceClassification with the settings of sweep's defaults (lr 5e-5, weight decay 0.01,
warmup ratio 0.1, linear decay, clipping 1.0, batch 32, eval batch 128, length-grouped batches, fused
AdamW), validates every ``--eval-steps`` steps, tests once, and writes what it measured as JSON. It imports
nothing of sweep: its process wall time is the Trainer's alone.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--model", required=True, help="a Hugging Face model folder")
    parser.add_argument("--eval-steps", type=int, required=True)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    frame = pd.read_csv(args.csv)
    labels = {name: i for i, name in enumerate(sorted(frame["label"].unique()))}
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def rows(split: str) -> list[dict]:
        part = frame[frame["split"] == split]
        ids = tokenizer(part["text"].tolist(), truncation=True, max_length=args.max_length)["input_ids"]
        return [{"input_ids": i, "labels": labels[label]} for i, label in zip(ids, part["label"])]

    def accuracy(prediction) -> dict:
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    train, val, test = rows("train"), rows("val"), rows("test")
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=len(labels))
    arguments = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="trainer-job-"), per_device_train_batch_size=32, per_device_eval_batch_size=128,
        num_train_epochs=args.epochs, learning_rate=5e-5, weight_decay=0.01, warmup_steps=0.1, lr_scheduler_type="linear",
        max_grad_norm=1.0, train_sampling_strategy="group_by_length", eval_strategy="steps", eval_steps=args.eval_steps,
        save_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True, seed=args.seed, use_cpu=True, bf16=args.bf16,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=arguments, train_dataset=train, eval_dataset=val, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=accuracy,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.train()  # with its validations, as sweep's train_time_s covers the fit with its validations
    train_s = time.perf_counter() - start
    evaluations = [entry["eval_accuracy"] for entry in trainer.state.log_history if "eval_accuracy" in entry]
    tested = trainer.predict(test).metrics["test_accuracy"]
    pooler = sum(p.numel() for name, p in model.named_parameters() if ".pooler." in name)
    result = {
        "train_s": train_s,
        "optimizer_steps": trainer.state.global_step,
        "rows": [len(train), len(val), len(test)],
        "validations": len(evaluations),
        "val_acc": evaluations[-1],
        "test_acc": tested,
        "params": model.num_parameters(),
        "pooler_params": pooler,  # a CLS pooler sweep's mean-pooling classifier does not have
    }
    with open(args.out, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
