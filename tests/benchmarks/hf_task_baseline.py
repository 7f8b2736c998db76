"""The Hugging Face side of ``bench_task_types.py``: one Trainer job per task type, as a user writes it.

    python -m tests.benchmarks.hf_task_baseline --splits splits.pkl --model <HF folder> --epochs 3 --lr 1e-4 [--bf16] --out r.json

Reads the rows sweep's ``load_splits`` gave (pickled by bench_task_types.py: the same train / val / test rows, the
task type, label names, max length) and fine-tunes the matching head with ``transformers.Trainer`` at sweep's
``strategy=full`` settings (batch 32, eval batch 128, AdamW with weight decay 0.01, warmup ratio 0.1, linear
decay, clipping 1.0, length-grouped batches), validating every epoch and restoring the best epoch on the same
monitored metric as sweep's ``trainer.restore_best``:

- regression: ``AutoModelForSequenceClassification(num_labels=1, problem_type="regression")`` on the target
  standardised with the training split's mean and (population) std; RMSE, MAE, Pearson, Spearman on the raw scale;
- multilabel: ``problem_type="multi_label_classification"`` (BCE); micro- and macro-F1 at 0.5, and at the
  threshold of the grid 0.05..0.95 that is best on validation (as sweep chooses it), applied to test;
- token_classification: ``AutoModelForTokenClassification``, aligned as run_ner's ``tokenize_and_align_labels``
  (``is_split_into_words``, ``word_ids()``, the tag on each word's first piece, -100 elsewhere); seqeval's
  entity-level micro F1 (default mode) on word tags, and word accuracy.

Imports nothing of sweep: its process wall time is the Trainer's alone. Writes what it measured as JSON.
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time

GRID = [k / 20 for k in range(1, 20)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", required=True, help="pickle written by bench_task_types.py")
    parser.add_argument("--model", required=True, help="a Hugging Face model folder")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-batch-size", type=int, default=128)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU (sweep's precision=auto here)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import numpy as np
    from transformers import AutoTokenizer, Trainer, TrainingArguments

    with open(args.splits, "rb") as handle:
        data = pickle.load(handle)
    kind, names, max_length = data["type"], data["label_names"], data["max_length"]
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    extra: dict = {}

    if kind == "token_classification":
        from seqeval.metrics import f1_score
        from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

        # sweep caps a sentence at task.max_length words and 2 pieces a word; the same sub-word budget here
        budget = 2 * max_length
        lost = [0]

        def rows(split: str) -> list[dict]:
            out = []
            for words, tags in zip(data[split]["inputs"], data[split]["labels"]):
                encoded = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=budget)
                labels, previous = [], None
                for word in encoded.word_ids():
                    labels.append(-100 if word is None or word == previous else int(tags[word]))
                    previous = word
                lost[0] += len(words) - sum(label != -100 for label in labels)
                out.append({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "labels": labels})
            return out

        def metrics(prediction) -> dict:
            predicted = np.argmax(prediction.predictions, -1)
            gold_tags, guess_tags = [], []
            for row_gold, row_guess in zip(prediction.label_ids, predicted):
                keep = row_gold != -100
                gold_tags.append([names[t] for t in row_gold[keep]])
                guess_tags.append([names[t] for t in row_guess[keep]])
            words = sum(len(row) for row in gold_tags)
            correct = sum(g == p for gold, guess in zip(gold_tags, guess_tags) for g, p in zip(gold, guess))
            return {"f1": float(f1_score(gold_tags, guess_tags)), "acc": correct / max(words, 1)}

        model = AutoModelForTokenClassification.from_pretrained(args.model, num_labels=len(names))
        collator = DataCollatorForTokenClassification(tokenizer)
        monitor, greater = "f1", True
    else:
        from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

        collator = DataCollatorWithPadding(tokenizer)
        if kind == "regression":
            train_y = np.asarray(data["train"]["labels"], np.float64)
            mean, std = float(train_y.mean()), float(train_y.std()) or 1.0
            extra = {"target_mean": mean, "target_std": std}

            def target(y):
                return float((y - mean) / std)

            def metrics(prediction) -> dict:
                from scipy.stats import pearsonr, spearmanr

                guess = prediction.predictions.reshape(-1).astype(np.float64) * std + mean
                gold = np.asarray(prediction.label_ids, np.float64).reshape(-1) * std + mean
                error = guess - gold
                return {
                    "rmse": float(np.sqrt((error**2).mean())),
                    "mae": float(np.abs(error).mean()),
                    "pearson": float(pearsonr(guess, gold).statistic),
                    "spearman": float(spearmanr(guess, gold).statistic),
                }

            model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=1, problem_type="regression")
            monitor, greater = "rmse", False
        else:  # multilabel

            def target(y):
                return [float(v) for v in y]

            def f1_at(probabilities, gold, threshold: float) -> tuple[float, float]:
                guess = probabilities > threshold  # strictly above: torchmetrics' and sweep's convention
                tp, fp, fn = (guess & gold).sum(0), (guess & ~gold).sum(0), (~guess & gold).sum(0)
                micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
                per_label = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
                return float(micro), float(per_label.mean())  # macro over all labels, absent ones scoring 0

            def metrics(prediction) -> dict:
                probabilities = 1 / (1 + np.exp(-prediction.predictions.astype(np.float64)))
                gold = prediction.label_ids > 0.5
                best = max(GRID, key=lambda t: (f1_at(probabilities, gold, t)[0], -abs(t - 0.5)))
                micro, macro = f1_at(probabilities, gold, 0.5)
                best_micro, best_macro = f1_at(probabilities, gold, best)
                return {"f1_micro": micro, "f1_macro": macro, "f1_micro_best": best_micro, "f1_macro_best": best_macro, "threshold": best}

            model = AutoModelForSequenceClassification.from_pretrained(
                args.model, num_labels=len(names), problem_type="multi_label_classification"
            )
            monitor, greater = "f1_micro_best", True  # sweep monitors micro-F1 at the threshold searched on validation

        def rows(split: str) -> list[dict]:
            ids = tokenizer(list(data[split]["inputs"]), truncation=True, max_length=max_length)["input_ids"]
            return [{"input_ids": i, "labels": target(y)} for i, y in zip(ids, data[split]["labels"])]

    train, val, test = rows("train"), rows("val"), rows("test")
    output_dir = tempfile.mkdtemp(prefix="hf-task-baseline-")
    arguments = TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.eval_batch_size,
        num_train_epochs=args.epochs, learning_rate=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_ratio,
        lr_scheduler_type="linear", max_grad_norm=1.0, train_sampling_strategy="group_by_length", eval_strategy="epoch",
        save_strategy="epoch", save_total_limit=1, load_best_model_at_end=True, metric_for_best_model=monitor,
        greater_is_better=greater, logging_strategy="no", report_to=[], disable_tqdm=True, seed=args.seed, use_cpu=True,
        bf16=args.bf16,
    )  # fmt: skip
    trainer = Trainer(model=model, args=arguments, train_dataset=train, eval_dataset=val, data_collator=collator, compute_metrics=metrics)
    start = time.perf_counter()
    trainer.train()  # with its validations and the best epoch restored, as sweep's train_time_s covers them
    train_s = time.perf_counter() - start
    evaluations = [entry for entry in trainer.state.log_history if f"eval_{monitor}" in entry]
    best_val = (max if greater else min)(entry[f"eval_{monitor}"] for entry in evaluations)
    val_now = trainer.predict(val).metrics  # the restored best epoch's validation (its threshold, for multilabel)
    tested = trainer.predict(test)
    test_metrics = {
        key.removeprefix("test_"): value for key, value in tested.metrics.items() if not key.endswith(("_runtime", "per_second"))
    }
    if kind == "multilabel":  # the threshold chosen on validation, applied to test (not searched on test)
        threshold = val_now["test_threshold"]
        probabilities = 1 / (1 + np.exp(-tested.predictions.astype(np.float64)))
        micro, macro = f1_at(probabilities, tested.label_ids > 0.5, threshold)
        test_metrics.update({"f1_micro_valthreshold": micro, "f1_macro_valthreshold": macro, "val_threshold": threshold})
        for key in ("f1_micro_best", "f1_macro_best", "threshold"):  # searched on test: not reported
            test_metrics.pop(key, None)
    if kind == "token_classification":
        extra["words_lost_to_truncation"] = lost[0]
    result = {
        "train_s": train_s,
        "optimizer_steps": trainer.state.global_step,
        "rows": [len(train), len(val), len(test)],
        "best_val": best_val,
        "monitor": monitor,
        "test": test_metrics,
        "params": model.num_parameters(),
        **extra,
    }
    with open(args.out, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
