"""Benchmark: the generation task types (seq2seq, causal_lm) through the real CLIs, against trivial and Hugging
Face references. Not a test: nothing here asserts a score or a time.

    python -m tests.benchmarks.bench_generation [--part A|B|C|D ...] [--out /tmp/bench_gen]

A. seq2seq on task=debian_synopsis (package description -> its one-line synopsis): ``t5_small_scratch``
   pre-trained with ``sweep.pretrain pretrain.objective=span`` on the task's training texts (saved in the zoo as
   ``bench_gen_t5_span``), then fine-tuned (strategy=full); the same T5 from scratch (control); SmolLM2-135M with
   strategy=lora (and strategy=full only if one measured step makes the budget reachable). Same rows, batch and
   optimizer steps for every arm. Plus the lead-k baseline (the source's first k words, k = the median target
   length in words of the training rows), scored with torchmetrics on the same test rows.
B. causal_lm on task=chatterbot_qa: SmolLM2-135M with strategy=full, lora and prompt at the same steps, and the
   untrained model (trainer.fit=false) as the zero point.
C. validation cost against Hugging Face: the kept model of A's pre-trained T5 (strategy=full), evaluated by
   ``sweep.run model=saved model.source=runs:/<id>/model trainer.fit=false`` and by
   tests/benchmarks/hf_seq2seq_baseline.py (``Seq2SeqTrainer(predict_with_generate=True).evaluate()``) on the very
   same encoded val rows (exported here from sweep's own encoding). Then one fit with intermediate
   validations (trainer.val_check_interval=0.25) generating task.generate.val_rows=32 rows against val_rows=null.
D. generated tokens per second, greedy and beam 4: sweep's test/tokens_per_s (trainer.fit=false) against
   ``model.generate`` called directly in a loop over the same encoded rows, batch size and max_new_tokens, under
   the precision sweep ran in (bf16 autocast where the CPU has it) and in fp32; for the T5 and for SmolLM2.

Every command's output is kept under ``<out>/<part>/logs``; runs are found by ``tracking.run_name`` in the part's
MLflow store (``<out>/<part>/mlflow.db``); a run already finished there is not run again (rerun a part after
deleting its folder). Results: ``<out>/results.json`` and markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu  # noqa: E402  (a script beside its helpers)

ZOO_NAME = "bench_gen_t5_span"
SIZES_A = ["task.train_size=1000", "task.val_size=200", "task.test_size=200"]


# ------------------------------------------------------------------------------------------------ plumbing
class Bench:
    def __init__(self, out: Path):
        self.out = out
        self.results_path = out / "results.json"
        self.results = json.loads(self.results_path.read_text()) if self.results_path.exists() else {}
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "SWEEP_ZOO_DIR": str(out / "zoo")}
        self.env.pop("MLFLOW_TRACKING_URI", None)

    def save(self) -> None:
        self.results_path.write_text(json.dumps(self.results, indent=1, default=str))

    def part_dir(self, part: str) -> Path:
        path = self.out / part
        (path / "logs").mkdir(parents=True, exist_ok=True)
        return path

    def client(self, part: str):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=f"sqlite:///{self.out / part / 'mlflow.db'}")

    def run_named(self, part: str, name: str):
        """The newest finished run called ``name`` in the part's store, or None."""
        if not (self.out / part / "mlflow.db").exists():
            return None
        client = self.client(part)
        experiment = client.get_experiment_by_name("sweep")
        if experiment is None:
            return None
        found = client.search_runs([experiment.experiment_id], filter_string=f"tags.`mlflow.runName` = '{name}'", max_results=50)
        found = [r for r in found if r.data.tags.get("state") == "finished"]
        return max(found, key=lambda r: r.info.start_time) if found else None

    def sweep(self, part: str, module: str, name: str, *args: str, allowed=(0,)):
        """``python -m module args tracking.run_name=name`` (cwd and stores in ``<out>/<part>``), unless a finished run
        of that name is there; returns the run (None if it failed). Process wall seconds in results["walls"]."""
        done = self.run_named(part, name)
        if done is not None:
            print(f"  {name}: already finished ({done.info.run_id})", flush=True)
            return done
        folder = self.part_dir(part)
        command = [sys.executable, "-m", module, *args, f"tracking.run_name={name}", f"paths.output_dir={folder}",
                   f"paths.cache_dir={self.out / 'cache'}"]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=folder, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        log = folder / "logs" / f"{name}.log"
        log.write_text(f"$ {' '.join(command[1:])}\n# rc {proc.returncode}, {wall:.1f} s\n{proc.stdout}\n{proc.stderr}")
        print(f"  python {' '.join(command[1:])}: rc {proc.returncode}, {wall:.0f} s", flush=True)
        self.results.setdefault("walls", {})[f"{part}/{name}"] = wall
        self.save()
        if proc.returncode not in allowed:
            print(f"  FAILED (log {log}):\n{proc.stderr[-2500:]}", flush=True)
            return None
        return self.run_named(part, name)

    def history(self, part: str, run, key: str) -> list:
        return sorted(((m.step, m.value) for m in self.client(part).get_metric_history(run.info.run_id, key)), key=lambda x: x[0])

    def artifact_folder(self, part: str, run) -> Path:
        return self.out / part / "mlartifacts" / run.info.run_id / "artifacts" / "model"


def compose_task(*overrides: str):
    """The validated task config of ``overrides`` (as sweep.run composes it), for load_splits and the tokenizers."""
    from hydra import compose, initialize_config_dir

    from sweep.pipeline.validate import validate

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        config = compose("config", overrides=["paths.output_dir=/tmp/bench_gen/compose", *overrides])
    return validate(config).root


def encoded_rows(root, tokenizer, split_name: str, decoder: bool) -> dict:
    """Sweep's own encoding of a split: input ids and labels per row (labels: -100 where nothing is learnt)."""
    from sweep.data.generation_tokens import tokenize_generation
    from sweep.data.tasks import load_splits

    splits = load_splits(root.task)
    split = getattr(splits, split_name)
    encoded, _ = tokenize_generation(split, tokenizer, root.task, decoder, None, "bench")
    ids = [encoded.row(i).astype(int).tolist() for i in range(len(encoded))]
    if decoder:
        labels = [encoded.row_labels(i).astype(int).tolist() for i in range(len(encoded))]
    else:
        labels = [list(map(int, target)) for target in encoded.labels]
    return {"input_ids": ids, "labels": labels, "sources": list(split.inputs), "targets": [str(t) for t in split.labels]}


def metric(run, key: str, fmt: str = ".4f") -> str:
    value = run.data.metrics.get(key) if run is not None else None
    return "–" if value is None else format(value, fmt)


# --------------------------------------------------------------------------------------------- part A
def one_full_step_seconds(batch_size: int, seq_len: int) -> dict:
    """One AdamW step of full fine-tuning of SmolLM2-135M on a [batch, seq_len] batch, bf16 autocast as sweep
    runs it here; two steps, the second timed (the first pays allocation)."""
    import torch
    from transformers import AutoModelForCausalLM

    from sweep.zoo.assets import CHECKPOINTS

    folder = CHECKPOINTS.get("smollm2_135m")("model.source", Path(os.environ.get("BENCH_CACHE", "/tmp/bench_gen/cache")))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(100, 40000, (batch_size, seq_len))
    times = []
    for _ in range(2):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return {"batch": batch_size, "seq_len": seq_len, "first_s": times[0], "second_s": times[1]}


def lead_k(root) -> dict:
    import numpy as np
    from torchmetrics.text import CHRFScore, ROUGEScore, SacreBLEUScore

    from sweep.data.tasks import load_splits

    splits = load_splits(root.task)
    k = int(np.median([len(str(t).split()) for t in splits.train.labels]))
    predictions = [" ".join(str(s).split()[:k]) for s in splits.test.inputs]
    references = [str(t).strip() for t in splits.test.labels]
    rouge = ROUGEScore(rouge_keys=("rouge1", "rouge2", "rougeL"))(predictions, references)
    return {
        "k": k,
        "rows": len(references),
        "rouge1": float(rouge["rouge1_fmeasure"]),
        "rouge2": float(rouge["rouge2_fmeasure"]),
        "rougeL": float(rouge["rougeL_fmeasure"]),
        "bleu": float(SacreBLEUScore(tokenize="13a")(predictions, [[r] for r in references])),
        "chrf": float(CHRFScore()(predictions, [[r] for r in references])),
        "test_target_words_median": float(np.median([len(r.split()) for r in references])),
        "source_words_median": float(np.median([len(str(s).split()) for s in splits.test.inputs])),
    }


def part_a(bench: Bench, args) -> None:
    print("A. seq2seq on debian_synopsis", flush=True)
    pre = bench.sweep(
        "A", "sweep.pretrain", "bench-gen-t5-span", "model=t5_small_scratch", "task=debian_synopsis", "pretrain.objective=span",
        f"trainer.max_steps={args.pretrain_steps}", "optim.lr=1e-3", f"pretrain.save_as={ZOO_NAME}",
    )  # fmt: skip
    if pre is None:
        return
    budget = [*SIZES_A, f"optim.batch_size={args.a_batch}", f"trainer.max_steps={args.a_steps}"]
    arms = {
        "a-t5-pretrained-full": [f"model={ZOO_NAME}", "strategy=full", f"optim.lr={args.t5_lr}", "tracking.save_model=always"],
        "a-t5-scratch-full": ["model=t5_small_scratch", "strategy=full", f"optim.lr={args.t5_lr}", "tracking.save_model=never"],
        "a-smollm2-lora": ["model=smollm2_135m", "strategy=lora", "tracking.save_model=never"],
    }
    for name, extra in arms.items():
        bench.sweep("A", "sweep.run", name, "task=debian_synopsis", *budget, *extra)
    if args.t5_long_steps:  # what the T5s do with SmolLM2's wall time
        # enough epochs: the default trainer.max_epochs=1 would stop them after one epoch (1000 rows / batch 16 = 63 steps),
        # whatever max_steps says (and max_epochs=-1 is refused)
        epochs = -(-args.t5_long_steps // -(-1000 // args.a_batch))
        long_budget = [
            *SIZES_A,
            f"optim.batch_size={args.a_batch}",
            f"trainer.max_steps={args.t5_long_steps}",
            f"trainer.max_epochs={epochs}",
        ]
        for name, model in (
            (f"a-t5-pretrained-full-{args.t5_long_steps}", ZOO_NAME),
            (f"a-t5-scratch-full-{args.t5_long_steps}", "t5_small_scratch"),
        ):
            keep = "always" if model == ZOO_NAME else "never"  # parts C and D evaluate it
            bench.sweep("A", "sweep.run", name, "task=debian_synopsis", *long_budget, f"model={model}", "strategy=full",
                        f"optim.lr={args.t5_lr}", f"tracking.save_model={keep}")  # fmt: skip
    lora = bench.run_named("A", "a-smollm2-lora")
    if "smollm2_full_step" not in bench.results:
        # the longest rows of this budget: source cut at task.max_length=128 SmolLM2 tokens + separator + target
        bench.results["smollm2_full_step"] = one_full_step_seconds(args.a_batch, 150)
        bench.save()
    step = bench.results["smollm2_full_step"]["second_s"]
    lora_step = lora.data.metrics["train_time_s"] / max(lora.data.metrics.get("optimizer_steps", 1), 1) if lora else None
    bench.results["smollm2_full_skipped"] = (
        f"one full step (batch {args.a_batch}, 150 tokens, bf16 autocast, measured in-process) took {step:.1f} s: "
        f"{args.a_steps} steps = {step * args.a_steps / 60:.0f} min of training alone"
        + (f" (lora: {lora_step:.1f} s per step including validation)" if lora_step else "")
    )
    if step * args.a_steps <= args.full_budget_s:
        bench.sweep("A", "sweep.run", "a-smollm2-full", "task=debian_synopsis", *budget, "model=smollm2_135m", "strategy=full",
                    "tracking.save_model=never")  # fmt: skip
        bench.results.pop("smollm2_full_skipped")
    bench.results["lead_k"] = lead_k(compose_task("task=debian_synopsis", "model=t5_small_scratch", *SIZES_A))
    bench.save()


def report_a(bench: Bench, args) -> None:
    pre = bench.run_named("A", "bench-gen-t5-span")
    if pre is None:
        return
    m = pre.data.metrics
    print(f"\nA. pre-training t5_small_scratch (span corruption, lr 1e-3, batch 32) on debian_synopsis's {int(m['data_train_rows'])} "
          f"training texts: {int(m['optimizer_steps'])} steps, {m['train_time_s']:.0f} s, best val/loss {m['best_val/loss']:.3f} "
          f"(val/acc of the predicted tokens {m.get('best_val/acc', float('nan')):.3f}); process wall "
          f"{bench.results['walls'].get('A/bench-gen-t5-span', float('nan')):.0f} s")  # fmt: skip
    print(f"\nfine-tuning: {' '.join(SIZES_A)}, batch {args.a_batch}, {args.a_steps} optimizer steps; T5 lr {args.t5_lr}, "
          "lora lr 3e-3 (the strategy's)")  # fmt: skip
    print("\n| arm | test/rougeL | rouge1 | rouge2 | bleu | chrf | perplexity | best val/rougeL | train_time_s | process wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = ["a-t5-pretrained-full", "a-t5-scratch-full", "a-smollm2-lora", "a-smollm2-full"]
    if args.t5_long_steps:
        names += [f"a-t5-pretrained-full-{args.t5_long_steps}", f"a-t5-scratch-full-{args.t5_long_steps}"]
    for name in names:
        run = bench.run_named("A", name)
        if run is None:
            continue
        steps = int(run.data.metrics.get("optimizer_steps", 0))
        print(
            f"| {name} ({steps} steps) | {metric(run, 'test/rougeL')} | {metric(run, 'test/rouge1')} | {metric(run, 'test/rouge2')} | "
            f"{metric(run, 'test/bleu')} | {metric(run, 'test/chrf')} | {metric(run, 'test/perplexity', '.1f')} | "
            f"{metric(run, 'best_val/rougeL')} | {metric(run, 'train_time_s', '.0f')} | {bench.results['walls'].get('A/' + name, 0):.0f} |"
        )
    lead = bench.results.get("lead_k")
    if lead:
        print(f"| lead-{lead['k']} (first {lead['k']} source words) | {lead['rougeL']:.4f} | {lead['rouge1']:.4f} | {lead['rouge2']:.4f} | "
              f"{lead['bleu']:.4f} | {lead['chrf']:.4f} | | | | |")  # fmt: skip
    if "smollm2_full_skipped" in bench.results:
        print(f"\nsmollm2_135m strategy=full not run: {bench.results['smollm2_full_skipped']}")


# --------------------------------------------------------------------------------------------- part B
def part_b(bench: Bench, args) -> None:
    print("B. causal_lm on chatterbot_qa", flush=True)
    common = ["task=chatterbot_qa", "model=smollm2_135m", f"optim.batch_size={args.b_batch}", "tracking.save_model=never"]
    bench.sweep("B", "sweep.run", "b-untrained", *common, "trainer.fit=false")
    for strategy in ("lora", "prompt", "full"):
        bench.sweep("B", "sweep.run", f"b-{strategy}", *common, f"strategy={strategy}", f"trainer.max_steps={args.b_steps}")


def report_b(bench: Bench, args) -> None:
    rows = [(name, bench.run_named("B", name)) for name in ("b-untrained", "b-full", "b-lora", "b-prompt")]
    if not any(run for _, run in rows):
        return
    first = next(run for _, run in rows if run)
    m = first.data.metrics
    print(f"\nB. chatterbot_qa, SmolLM2-135M, batch {args.b_batch}, {args.b_steps} optimizer steps, lr: the strategy's "
          f"(full 5e-5, lora 3e-3, prompt 3e-2); rows {int(m.get('data_train_rows', 0))}/{int(m.get('data_val_rows', 0))}/"
          f"{int(m.get('data_test_rows', 0))}")  # fmt: skip
    print(
        "\n| run | test/perplexity | test/rougeL | test/exact_match | test/loss | trainable params | train_time_s | peak_memory_mb | process wall s |"  # noqa: E501
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in rows:
        if run is None:
            continue
        print(
            f"| {name} | {metric(run, 'test/perplexity', '.2f')} | {metric(run, 'test/rougeL')} | {metric(run, 'test/exact_match')} | "
            f"{metric(run, 'test/loss')} | {metric(run, 'params_trainable', ',.0f')} | {metric(run, 'train_time_s', '.0f')} | "
            f"{metric(run, 'peak_memory_mb', ',.0f')} | {bench.results['walls'].get('B/' + name, 0):.0f} |"
        )


# --------------------------------------------------------------------------------------------- part C
def kept_t5(bench: Bench, args):
    """The kept pre-trained T5 that parts C and D evaluate: the longer fine-tuning if it ran, else the short one."""
    for name in ([f"a-t5-pretrained-full-{args.t5_long_steps}"] if args.t5_long_steps else []) + ["a-t5-pretrained-full"]:
        run = bench.run_named("A", name)
        if run is not None and bench.artifact_folder("A", run).exists():
            return run, name.removeprefix("a-t5-pretrained-full").strip("-") or str(args.a_steps)
    print("  no kept pre-trained T5 of part A: run --part A first")
    return None, None


def part_c(bench: Bench, args) -> None:
    print("C. validation cost against the Hugging Face Seq2SeqTrainer", flush=True)
    kept, steps = kept_t5(bench, args)
    if kept is None:
        return
    folder = bench.artifact_folder("A", kept)
    from transformers import AutoTokenizer

    root = compose_task("task=debian_synopsis", "model=t5_small_scratch", *SIZES_A)
    rows_path = bench.part_dir("C") / "val_rows.pkl"
    with open(rows_path, "wb") as handle:
        pickle.dump({"val": encoded_rows(root, AutoTokenizer.from_pretrained(folder), "val", decoder=False)}, handle)
    generate = root.task.generate
    hf_out = bench.out / "C" / f"hf-{steps}.json"
    if not hf_out.exists():
        command = [sys.executable, "-m", "tests.benchmarks.hf_seq2seq_baseline", "--model", str(folder), "--rows", str(rows_path),
                   "--out", str(hf_out), "--max-new-tokens", str(generate.max_new_tokens), "--num-beams", str(generate.num_beams),
                   "--length-penalty", str(generate.length_penalty), "--batch-size", "128", "--repeats", "3"]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env=bench.env, capture_output=True, text=True)
        (bench.out / "C" / "logs" / f"hf-{steps}.log").write_text(proc.stdout + proc.stderr)
        bench.results.setdefault("walls", {})[f"C/hf-{steps}"] = time.perf_counter() - start
        print(f"  hf_seq2seq_baseline: rc {proc.returncode}, {time.perf_counter() - start:.0f} s", flush=True)
        if proc.returncode:
            print(proc.stderr[-2500:])
    # the same kept model through sweep (model=saved needs the store that holds the run: part A's)
    source = f"model.source=runs:/{kept.info.run_id}/model"
    for precision in ("auto", "32-true"):
        for repeat in range(1):
            bench.sweep("A", "sweep.run", f"c-saved-{precision}-{steps}steps-{repeat}", "task=debian_synopsis", *SIZES_A, "model=saved", source,  # noqa: E501
                        "trainer.fit=false", f"trainer.precision={precision}", "tracking.save_model=never")  # fmt: skip
    # subset generation at intermediate validations
    fit = ["task=debian_synopsis", *SIZES_A, f"model={ZOO_NAME}", "strategy=full", f"optim.lr={args.t5_lr}",
           f"trainer.max_steps={args.c_steps}", f"optim.batch_size={args.a_batch}", "trainer.val_check_interval=0.25",
           "trainer.early_stopping_patience=null", "tracking.save_model=never"]  # fmt: skip
    bench.sweep("A", "sweep.run", "c-val-rows-32", *fit, "task.generate.val_rows=32")
    bench.sweep("A", "sweep.run", "c-val-rows-null", *fit, "task.generate.val_rows=null")
    bench.save()


def report_c(bench: Bench, args) -> None:
    _, steps = kept_t5(bench, args)
    hf_path = bench.out / "C" / f"hf-{steps}.json"
    saved = [(name, bench.run_named("A", name)) for name in (f"c-saved-auto-{steps}steps-0", f"c-saved-32-true-{steps}steps-0")]
    if hf_path.exists() or any(run for _, run in saved):
        print(f"\nC. one validation of the kept pre-trained T5 (strategy=full, {steps} fine-tuning steps) on the same 200 encoded val "
              "rows, batch 128, greedy, 24 new tokens")  # fmt: skip
        print("\n| evaluator | val/rougeL | rouge1 | rouge2 | generate s | whole validation s | generated tokens | process wall s |")
        print("|---|---|---|---|---|---|---|---|")
        if hf_path.exists():
            hf = json.loads(hf_path.read_text())
            for i, e in enumerate(hf["evaluations"]):
                print(f"| HF Seq2SeqTrainer.evaluate() #{i + 1} (fp32) | {e['eval_rougeL']:.4f} | {e['eval_rouge1']:.4f} | "
                      f"{e['eval_rouge2']:.4f} | | {e['wall_s']:.2f} | {hf.get('generated_tokens', '–')} | "
                      f"{bench.results.get('walls', {}).get(f'C/hf-{steps}', 0):.0f} (3 evaluations) |")  # fmt: skip
        for name, run in saved:
            if run is None:
                continue
            print(f"| sweep fit=false, precision {run.data.tags.get('precision', '?')} ({name}) | {metric(run, 'val/rougeL')} | "
                  f"{metric(run, 'val/rouge1')} | {metric(run, 'val/rouge2')} | {metric(run, 'val/generate_s', '.2f')} | "
                  f"{metric(run, 'train_time_s', '.2f')} (train_time_s: the validate() call) | {metric(run, 'val/generated_tokens', '.0f')} | "  # noqa: E501
                  f"{bench.results['walls'].get('A/' + name, 0):.0f} |")  # fmt: skip
    subset = [(name, bench.run_named("A", name)) for name in ("c-val-rows-32", "c-val-rows-null")]
    if any(run for _, run in subset):
        print(f"\nC'. one fit, {args.c_steps} steps, trainer.val_check_interval=0.25 (validation every quarter epoch), 200 val rows")
        print(
            "\n| task.generate.val_rows | val/generate_s per validation (step: s, rows) | intermediate mean s | final s | train_time_s | process wall s |"  # noqa: E501
        )
        print("|---|---|---|---|---|---|")
        for name, run in subset:
            if run is None:
                continue
            seconds = bench.history("A", run, "val/generate_s")
            rows = dict(bench.history("A", run, "val/generated_rows"))
            cells = ", ".join(f"{step}: {s:.2f} s, {int(rows.get(step, 0))}" for step, s in seconds)
            intermediate = [s for _, s in seconds[:-1]]
            print(f"| {name.removeprefix('c-val-rows-')} | {cells} | {statistics.mean(intermediate) if intermediate else float('nan'):.2f} | "  # noqa: E501
                  f"{seconds[-1][1] if seconds else float('nan'):.2f} | {metric(run, 'train_time_s', '.1f')} | "
                  f"{bench.results['walls'].get('A/' + name, 0):.0f} |")  # fmt: skip


# --------------------------------------------------------------------------------------------- part D
SIZES_D = ["task.train_size=1000", "task.val_size=16", "task.test_size=32"]


def direct_generate(model, rows: dict, decoder: bool, batch_size: int, options: dict, bf16: bool, pad: int, eos: int) -> dict:
    """``model.generate`` over the rows in sweep's evaluation order (sorted by length), timed around generate alone;
    tokens counted as sweep counts them (up to and including the first end-of-sequence token)."""
    import numpy as np
    import torch

    from lightning_modules.generation import IGNORE, generated_lengths

    sequences = []
    for ids, labels in zip(rows["input_ids"], rows["labels"]):
        if decoder:  # the prompt: the positions before the first labelled token
            first = next(i for i, label in enumerate(labels) if label != IGNORE)
            sequences.append(ids[:first])
        else:
            sequences.append(ids)
    full_lengths = [len(ids) for ids in rows["input_ids"]]
    order = np.argsort(full_lengths, kind="stable").tolist()
    seconds, tokens, with_start = 0.0, 0, 0
    for start in range(0, len(order), batch_size):
        batch = [sequences[i] for i in order[start : start + batch_size]]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(batch):
            if decoder:  # left padding
                ids[i, width - len(s) :], mask[i, width - len(s) :] = torch.tensor(s), 1
            else:
                ids[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), 1
        begin = time.perf_counter()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model.generate(input_ids=ids, attention_mask=mask, **options)
        seconds += time.perf_counter() - begin
        # a decoder's output repeats its prompt; an encoder-decoder's starts with the decoder start token, which it did
        # not generate (sweep counts it: ``with_start``)
        generated = out[:, ids.size(1) :] if decoder else out[:, 1:]
        tokens += int(generated_lengths(generated, eos).sum())
        with_start += int(generated_lengths(out, eos).sum()) if not decoder else 0
    return {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds, "tokens_counting_start": with_start}


def part_d(bench: Bench, args) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from sweep.zoo.assets import CHECKPOINTS
    from sweep.zoo.loader import load_tokenizer

    print("D. tokens per second: sweep against model.generate", flush=True)
    kept, _ = kept_t5(bench, args)
    if kept is None:
        return
    models = {
        "t5": ["model=saved", f"model.source=runs:/{kept.info.run_id}/model"],
        "smollm2": ["model=smollm2_135m"],
    }
    direct = bench.results.setdefault("direct", {})
    for label, model_args in models.items():
        for beams in (1, 4):
            run = bench.sweep("A", "sweep.run", f"d-{label}-beams{beams}", "task=debian_synopsis", *SIZES_D, *model_args,
                              "trainer.fit=false", f"task.generate.num_beams={beams}", "tracking.save_model=never")  # fmt: skip
            if run is None:
                continue
        # the same rows, directly
        root = compose_task("task=debian_synopsis", "model=t5_small_scratch" if label == "t5" else "model=smollm2_135m", *SIZES_D)
        cache = bench.out / "cache"
        if label == "t5":
            folder = bench.artifact_folder("A", kept)
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32).eval()
            eos = model.config.eos_token_id
        else:
            from sweep.data.generation_tokens import end_of_sequence

            tokenizer = load_tokenizer(root.model, cache)
            model = AutoModelForCausalLM.from_pretrained(CHECKPOINTS.get("smollm2_135m")("model.source", cache), dtype=torch.float32).eval()
            eos = end_of_sequence(tokenizer)
        rows = encoded_rows(root, tokenizer, "test", decoder=label != "t5")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        generate = root.task.generate
        for beams in (1, 4):
            options = {"max_new_tokens": generate.max_new_tokens, "num_beams": beams, "do_sample": False, "pad_token_id": pad,
                       "eos_token_id": eos}  # fmt: skip
            if beams > 1:
                options["length_penalty"] = generate.length_penalty
            for bf16 in (True, False):
                if label == "smollm2" and beams > 1 and not bf16:  # minutes on 2 cores; the fp32/bf16 ratio is greedy's
                    continue
                key = f"{label}-beams{beams}-{'bf16' if bf16 else 'fp32'}"
                if key not in direct:
                    direct[key] = direct_generate(model, rows, label != "t5", root.optim.eval_batch_size, options, bf16, pad, eos)
                    print(f"  direct {key}: {direct[key]}", flush=True)
                    bench.save()
        del model


def report_d(bench: Bench, args) -> None:
    direct = bench.results.get("direct", {})
    if not direct:
        return
    print(f"\nD. generating the first {SIZES_D[2].split('=')[1]} test rows of debian_synopsis (one batch: eval_batch_size 128), "
          "max_new_tokens 24; sweep: a trainer.fit=false run's test/generate_s and test/tokens_per_s; direct: model.generate "
          "on the same encoded rows, timed around generate alone, under bf16 autocast (sweep's precision here) and fp32")  # fmt: skip
    print("\n| model | beams | sweep: generate s, tokens, tokens/s (precision) | direct bf16: s, tokens, tokens/s | direct fp32: s, tokens/s | "  # noqa: E501
          "sweep s / direct bf16 s |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for label in ("t5", "smollm2"):
        for beams in (1, 4):
            run = bench.run_named("A", f"d-{label}-beams{beams}")
            b = direct.get(f"{label}-beams{beams}-bf16")
            f = direct.get(f"{label}-beams{beams}-fp32")
            if run is None and b is None:
                continue
            precision = run.data.tags.get("precision", "?") if run else "?"
            sweep_s = run.data.metrics.get("test/generate_s") if run else None
            counted = f" ({b['tokens_counting_start']} counting the decoder start token)" if b and b.get("tokens_counting_start") else ""
            print(f"| {label} | {beams} | {metric(run, 'test/generate_s', '.2f')} s, {metric(run, 'test/generated_tokens', '.0f')}, "
                  f"{metric(run, 'test/tokens_per_s', '.1f')} ({precision}) | "
                  + (f"{b['seconds']:.2f} s, {b['tokens']}{counted}, {b['tokens_per_s']:.1f} | " if b else "– | ")
                  + (f"{f['seconds']:.2f} s, {f['tokens_per_s']:.1f} | " if f else "– | ")
                  + (f"{sweep_s / b['seconds']:.2f} |" if b and sweep_s else "– |"))  # fmt: skip


# ------------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", choices=["A", "B", "C", "D"], default=["A", "B", "C", "D"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_gen"))
    parser.add_argument("--report-only", action="store_true", help="print the tables of what is already there")
    parser.add_argument("--pretrain-steps", type=int, default=800, help="span-corruption steps of t5_small_scratch (batch 32)")
    parser.add_argument("--a-steps", type=int, default=32, help="optimizer steps of every part-A fine-tuning arm")
    parser.add_argument("--a-batch", type=int, default=16)
    parser.add_argument("--t5-lr", type=float, default=1e-3)
    parser.add_argument("--t5-long-steps", type=int, default=0, help="also fine-tune both T5s for this many steps (0: not)")
    parser.add_argument("--full-budget-s", type=float, default=600, help="run smollm2 strategy=full in A if its steps fit in this")
    parser.add_argument("--b-steps", type=int, default=20)
    parser.add_argument("--b-batch", type=int, default=16)
    parser.add_argument("--c-steps", type=int, default=63, help="steps of the subset-generation fits (batch --a-batch)")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_CACHE"] = str(args.out / "cache")
    bench = Bench(args.out)
    start = time.perf_counter()
    print(f"CPU: {cpu()}; load average {os.getloadavg()[0]:.1f}; working in {args.out}", flush=True)
    if not args.report_only:
        for part in args.part:
            {"A": part_a, "B": part_b, "C": part_c, "D": part_d}[part](bench, args)
    for part in args.part:
        {"A": report_a, "B": report_b, "C": report_c, "D": report_d}[part](bench, args)
    print(f"\nCPU: {cpu()}; load average at the end {os.getloadavg()[0]:.1f}; this invocation {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
