"""The Hugging Face reference for seq2seq validation: ``Seq2SeqTrainer(predict_with_generate=True).evaluate()``
on rows encoded elsewhere, scored with torchmetrics' ROUGE on the decoded predictions and labels.

    python -m tests.benchmarks.hf_seq2seq_baseline --model FOLDER --rows rows.pkl --out result.json \
        [--max-new-tokens 24] [--num-beams 1] [--length-penalty 1.0] [--batch-size 128] [--bf16] [--repeats 2]

``FOLDER``: a Hugging Face folder (config.json, model.safetensors, tokenizer), e.g. the ``model`` artifact of a
sweep run that fine-tuned an encoder-decoder with strategy=full. ``rows.pkl``: ``{"val": {"input_ids": [[...]],
"labels": [[...]]}}`` (the token ids of each row, written by tests/benchmarks/bench_generation.py from
sweep's own encoding, so both sides read the very same ids). ``generation_max_length`` is
``max_new_tokens + 1``: an encoder-decoder's output starts with its decoder start token, which
``max_length`` counts and sweep's ``max_new_tokens`` does not. Imports nothing of sweep. Not a test.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time

import numpy as np
import torch


class Rows(torch.utils.data.Dataset):
    def __init__(self, split: dict):
        self.input_ids, self.labels = split["input_ids"], split["labels"]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": list(self.input_ids[i]), "labels": list(self.labels[i])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--rows", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--length-penalty", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--bf16", action="store_true", help="Trainer bf16=True (autocast around the loss; generate as the Trainer runs it)")
    parser.add_argument("--repeats", type=int, default=2, help="evaluate() calls; the first pays one-off warm-up")
    args = parser.parse_args()

    from torchmetrics.text import ROUGEScore
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    torch.manual_seed(0)
    start = time.perf_counter()
    model = AutoModelForSeq2SeqLM.from_pretrained(args.model, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    load_s = time.perf_counter() - start
    with open(args.rows, "rb") as handle:
        rows = pickle.load(handle)[args.split]
    dataset = Rows(rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    eos = model.config.eos_token_id
    model.generation_config.update(
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=model.config.decoder_start_token_id,
        length_penalty=args.length_penalty, do_sample=False,
    )  # fmt: skip

    rouge = ROUGEScore(rouge_keys=("rouge1", "rouge2", "rougeL"))
    kept: dict = {}

    def compute_metrics(prediction) -> dict:
        predictions, labels = prediction.predictions, prediction.label_ids
        predictions = np.where(predictions < 0, pad, predictions)
        labels = np.where(labels < 0, pad, labels)
        texts = [t.strip() for t in tokenizer.batch_decode(predictions.tolist(), skip_special_tokens=True)]
        references = [t.strip() for t in tokenizer.batch_decode(labels.tolist(), skip_special_tokens=True)]
        rouge.reset()
        scores = rouge(texts, references)
        lengths = [int(np.argmax(row[1:] == eos)) + 1 if (row[1:] == eos).any() else len(row) - 1 for row in predictions]
        kept.update(predictions=texts[:8], references=references[:8], generated_tokens=int(sum(lengths)))
        return {key: float(scores[f"{key}_fmeasure"]) for key in ("rouge1", "rouge2", "rougeL")}

    training_args = Seq2SeqTrainingArguments(
        output_dir="/tmp/bench_gen/hf_trainer", per_device_eval_batch_size=args.batch_size, predict_with_generate=True,
        generation_max_length=args.max_new_tokens + 1, generation_num_beams=args.num_beams, bf16=args.bf16,
        report_to=[], use_cpu=True, dataloader_num_workers=0, eval_accumulation_steps=None,
    )  # fmt: skip
    trainer = Seq2SeqTrainer(
        model=model, args=training_args, eval_dataset=dataset, processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100), compute_metrics=compute_metrics,
    )  # fmt: skip
    evaluations = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        metrics = trainer.evaluate()
        evaluations.append({"wall_s": time.perf_counter() - start, **metrics})
    result = {
        "rows": len(dataset),
        "load_s": load_s,
        "evaluations": evaluations,
        "generation": {
            "max_length": args.max_new_tokens + 1,
            "num_beams": args.num_beams,
            "eos": eos,
            "pad": pad,
            "decoder_start": model.config.decoder_start_token_id,
        },  # fmt: skip
        "threads": torch.get_num_threads(),
        **kept,
    }
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("predictions", "references")}, indent=1))


if __name__ == "__main__":
    main()
