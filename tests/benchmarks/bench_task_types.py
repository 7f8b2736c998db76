"""Benchmark: the task types beside classification, each on its packaged task, against a trivial baseline and
a plain Hugging Face Trainer script; encoder against decoder on token classification; sweep.select's ranking
against the fine-tuned one.

    python -m tests.benchmarks.bench_task_types [--quick] [--dir /tmp/bench_tt] [--parts finetune baselines hf encdec select]

1. ``finetune``: per type, ``python -m sweep.run model=minilm_l3 task=<task> strategy=<s> optim.lr=<lr>
   trainer.max_epochs=<E>`` for s in full (lr 1e-4), lora (1e-3), feature (1e-2), one command each (the lr
   differs), the task's default split sizes: regression ``vader_movie_ratings`` (monitor val/rmse),
   multilabel ``debian_tags`` (val/f1_micro), token_classification ``tweet_ner`` (val/f1). Results from the
   MLflow store of ``<dir>/<task>``; one cache ``<dir>/cache`` for everything.
2. ``baselines``: the trivial predictor per type on the same test split (sweep.data.tasks.load_splits): the
   training mean (regression), the labels seen on > half the training rows and "always the most frequent
   label" (multilabel), every word ``O`` (token classification).
3. ``hf``: tests/benchmarks/hf_task_baseline.py on the same rows, checkpoint (MiniLM-L3's rebuilt HF folder),
   max length, batch, epochs, lr, warmup, weight decay and precision as the ``full`` job.
4. ``encdec``: tweet_ner with MiniLM-L3, MiniLM-L6 and SmolLM2-135M, ``strategy=lora`` (experiment
   ``enc_dec_lora``, lr ``--ner-lora-lr`` 3e-3: at 1e-3 the 3 epochs leave MiniLM-L3 predicting all ``O``) and
   ``strategy=feature`` (experiment ``enc_dec_feature``, lr 1e-2), the default split (``--ner-train`` to cut it).
5. ``select``: ``python -m sweep.select task=tweet_ner candidates=[minilm_l6,minilm_l3,smollm2_135m]
   scores=[logme,hscore,knn]`` against the ``enc_dec_lora`` runs (weighted Kendall tau on best_val/f1).

Prints markdown tables; the CPU named as sweep.runtime.hardware names it. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TASKS = {"regression": "vader_movie_ratings", "multilabel": "debian_tags", "token_classification": "tweet_ner"}
LRS = {"full": 1e-4, "lora": 1e-3, "feature": 1e-2}
NER_MODELS = ["minilm_l3", "minilm_l6", "smollm2_135m"]
QUICK_SIZES = ["task.train_size=200", "task.val_size=100", "task.test_size=100"]
PARTS = ["finetune", "baselines", "hf", "encdec", "select"]


def cpu() -> str:
    from sweep.runtime.hardware import BF16_CPU_FLAGS, cpu_flags, cpu_name

    flags = [flag for flag in BF16_CPU_FLAGS if flag in cpu_flags()]
    return f"{cpu_name()}, {os.cpu_count()} cores, {', '.join(flags) or 'no avx512_bf16/amx'}"


def cli(module: str, *args: str, log: Path) -> tuple[float, str]:
    """``python -m module args``; (process wall seconds, stdout). Output kept in ``log``; exits on failure."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=log.parent, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    log.write_text(f"$ python -m {module} {' '.join(args)}\n# rc {done.returncode}, {wall:.1f} s\n{done.stdout}\n{done.stderr}")
    print(f"  python -m {module} {' '.join(args)}: rc {done.returncode}, {wall:.0f} s", flush=True)
    if done.returncode != 0:
        sys.exit(f"failed (log {log}):\n{done.stderr[-3000:]}")
    return wall, done.stdout


class Walls(dict):
    """Process wall seconds per command, saved as each is added: a later ``--parts`` run reports earlier ones."""

    def __init__(self, path: Path):
        super().__init__(json.loads(path.read_text()) if path.exists() else {})
        self.path = path

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.path.write_text(json.dumps(self))


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


def task_config(task: str, sizes: list[str], cache: Path):
    from sweep.pipeline.validate import validate

    return validate(
        compose(f"task={task}", "model=minilm_l3", f"paths.output_dir={cache.parent}/compose", f"paths.cache_dir={cache}", *sizes)
    ).root.task


def finished_runs(output_dir: Path, experiment: str = "sweep") -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{output_dir / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return [r for r in client.search_runs([found.experiment_id], max_results=1000) if r.data.tags.get("state") == "finished"]


def latest(runs: list, **tags: str):
    """The newest finished run whose tags match (a rerun of the benchmark in the same folder wins)."""
    matching = [r for r in runs if all(r.data.tags.get(k) == v for k, v in tags.items()) and "sweep.kind" not in r.data.tags]
    return max(matching, key=lambda r: r.info.start_time) if matching else None


# --- 1. sweep.run per type and strategy ------------------------------------------------------------------------------
def finetune(args, walls: dict) -> None:
    for task in TASKS.values():
        out = args.dir / task
        out.mkdir(parents=True, exist_ok=True)
        for strategy, lr in LRS.items():
            if strategy not in args.strategies:
                continue
            wall, _ = cli(
                "sweep.run", "model=minilm_l3", f"task={task}", f"strategy={strategy}", f"optim.lr={lr}",
                f"trainer.max_epochs={args.epochs}", f"paths.output_dir={out}", f"paths.cache_dir={args.dir / 'cache'}",
                "tracking.save_model=never", *args.sizes, log=out / f"{strategy}.log",
            )  # fmt: skip
            walls[f"{task}/{strategy}"] = wall


# --- 2. trivial baselines --------------------------------------------------------------------------------------------
def trivial(kind: str, splits) -> dict:
    import numpy as np

    train, test = splits.train.labels, splits.test.labels
    if kind == "regression":
        error = np.asarray(test, np.float64) - float(np.mean(train))
        return {"training mean": {"rmse": float(np.sqrt((error**2).mean())), "mae": float(np.abs(error).mean()), "pearson": "undefined"}}
    if kind == "multilabel":
        gold = np.asarray(test) > 0.5
        frequency = np.asarray(train).mean(0)

        def scores(guess) -> dict:
            tp, fp, fn = (guess & gold).sum(0), (guess & ~gold).sum(0), (~guess & gold).sum(0)
            micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
            macro = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0).mean()
            return {"f1_micro": float(micro), "f1_macro": float(macro)}

        majority = np.broadcast_to(frequency > 0.5, gold.shape)
        first = int(frequency.argmax())
        top = np.zeros_like(gold)
        top[:, first] = True
        return {
            f"labels on > 50% of training rows ({int((frequency > 0.5).sum())} labels)": scores(majority),
            f"always the most frequent label ({splits.label_names[first]}, {frequency[first]:.1%} of training rows)": scores(top),
        }
    # token classification: every word O: no entity predicted, entity F1 0; word accuracy = the share of O
    o = splits.label_names.index("O")
    words = np.concatenate([np.asarray(tags) for tags in test])
    return {"every word O": {"f1": 0.0, "acc": float((words == o).mean())}}


def baselines(args) -> dict:
    from sweep.data.tasks import load_splits

    results = {}
    for kind, task in TASKS.items():
        splits = load_splits(task_config(task, args.sizes, args.dir / "cache"))
        results[kind] = {"rows": [len(splits.train), len(splits.val), len(splits.test)], "predictors": trivial(kind, splits)}
    return results


# --- 3. the Hugging Face Trainer on the same rows --------------------------------------------------------------------
def hf(args, walls: dict) -> dict:
    import numpy as np

    from sweep.data.tasks import load_splits
    from sweep.zoo.assets import CHECKPOINTS

    folder = CHECKPOINTS.get("minilm_l3")("model.source", args.dir / "cache")
    results = {}
    for kind, task in TASKS.items():
        config = task_config(task, args.sizes, args.dir / "cache")
        splits = load_splits(config)
        full = latest(finished_runs(args.dir / task), model="minilm_l3", strategy="full")
        bf16 = full is not None and full.data.tags.get("precision", "").startswith("bf16")
        data = {"type": kind, "label_names": list(splits.label_names), "max_length": config.max_length}
        for name in ("train", "val", "test"):
            split = getattr(splits, name)
            data[name] = {
                "inputs": list(split.inputs),
                "labels": [np.asarray(y) for y in split.labels] if kind == "token_classification" else np.asarray(split.labels),
            }
        work = args.dir / "hf"
        work.mkdir(parents=True, exist_ok=True)
        with open(work / f"{task}.pkl", "wb") as handle:
            pickle.dump(data, handle)
        out = work / f"{task}.json"
        wall, _ = cli(
            "tests.benchmarks.hf_task_baseline", "--splits", str(work / f"{task}.pkl"), "--model", str(folder), "--epochs",
            str(args.epochs), "--lr", str(LRS["full"]), *(["--bf16"] if bf16 else []), "--out", str(out), log=work / f"{task}.log",
        )  # fmt: skip
        results[kind] = {**json.loads(out.read_text()), "wall_s": wall, "bf16": bf16}
        walls[f"hf/{task}"] = wall
    return results


# --- 4. encoder vs decoder on tweet_ner ------------------------------------------------------------------------------
def encdec(args, walls: dict) -> None:
    out = args.dir / "tweet_ner_models"
    out.mkdir(parents=True, exist_ok=True)
    for strategy in ("lora", "feature"):
        lr = args.ner_lora_lr if strategy == "lora" else LRS[strategy]
        for model in NER_MODELS:
            wall, _ = cli(
                "sweep.run", f"model={model}", "task=tweet_ner", f"strategy={strategy}", f"optim.lr={lr}",
                f"trainer.max_epochs={args.ner_epochs}", f"tracking.experiment=enc_dec_{strategy}", f"paths.output_dir={out}",
                f"paths.cache_dir={args.dir / 'cache'}", "tracking.save_model=never", *args.ner_sizes, log=out / f"{model}-{strategy}.log",
            )  # fmt: skip
            walls[f"encdec/{model}/{strategy}"] = wall


# --- 5. sweep.select against the fine-tuned ranking ------------------------------------------------------------------
def select(args, walls: dict) -> str:
    out = args.dir / "tweet_ner_models"
    out.mkdir(parents=True, exist_ok=True)
    wall, stdout = cli(
        "sweep.select", "task=tweet_ner", f"candidates=[{','.join(args.select_models)}]", "scores=[logme,hscore,knn]",
        "tracking.experiment=enc_dec_lora", f"paths.output_dir={out}", f"paths.cache_dir={args.dir / 'cache'}", *args.ner_sizes,
        log=out / "select.log",
    )  # fmt: skip
    walls["select"] = wall
    return stdout


# --- tables ----------------------------------------------------------------------------------------------------------
def fmt(value) -> str:
    if isinstance(value, str):
        return value
    return "–" if value is None else f"{value:.4f}"


def report(args, walls: dict, base: dict | None, hf_results: dict | None, select_out: str | None) -> None:
    from sweep.task_types import TASK_TYPES

    print(f"\nCPU: {cpu()}; epochs {args.epochs}; lr full {LRS['full']}, lora {LRS['lora']}, feature {LRS['feature']}; model minilm_l3")
    print("\n| type (task) | run | val monitor (best) | test metrics | train_time_s | process wall s |")
    print("|---|---|---|---|---|---|")
    for kind, task in TASKS.items():
        task_type = TASK_TYPES.get(kind)
        monitor = task_type.monitor
        shown = task_type.shown
        found = finished_runs(args.dir / task)
        for strategy in LRS:
            run = latest(found, model="minilm_l3", strategy=strategy)
            if run is None:
                continue
            m = run.data.metrics
            tests = ", ".join(f"{k.removeprefix('test/')} {m[k]:.4f}" for k in shown if k in m)
            if kind == "multilabel":
                tests += f" (threshold {m.get('test/threshold', float('nan')):.2f})"
            wall = walls.get(f"{task}/{strategy}")
            print(
                f"| {kind} ({task}) | sweep {strategy} | {monitor} {m.get('best_' + monitor, float('nan')):.4f} | {tests} | "
                f"{m['train_time_s']:.1f} | {fmt(wall) if wall is None else f'{wall:.0f}'} |"
            )
        if hf_results and kind in hf_results:
            r = hf_results[kind]
            tests = ", ".join(f"{k} {fmt(v)}" for k, v in r["test"].items() if k != "loss")
            print(
                f"| {kind} ({task}) | HF Trainer, full{' bf16' if r['bf16'] else ''} | {r['monitor']} {r['best_val']:.4f} | {tests} | "
                f"{r['train_s']:.1f} | {r['wall_s']:.0f} |"
            )
        if base and kind in base:
            for name, values in base[kind]["predictors"].items():
                print(f"| {kind} ({task}) | trivial: {name} | | {', '.join(f'{k} {fmt(v)}' for k, v in values.items())} | | |")
    if base:
        print("\nrows (train / val / test): " + "; ".join(f"{TASKS[k]} {'/'.join(map(str, v['rows']))}" for k, v in base.items()))

    found = {s: finished_runs(args.dir / "tweet_ner_models", f"enc_dec_{s}") for s in ("lora", "feature")}
    if any(found.values()):
        print(f"\ntweet_ner, encoder vs decoder ({args.ner_epochs} epochs, {' '.join(args.ner_sizes) or 'default sizes'})")
        print(
            "| model | strategy | lr | best val/f1 | test/f1 | test/precision | test/recall | test/acc | trainable params | "
            "train_time_s | s / step | process wall s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for strategy, runs in found.items():
            for model in NER_MODELS:
                run = latest(runs, model=model, strategy=strategy)
                if run is None:
                    continue
                m = run.data.metrics
                steps = m.get("optimizer_steps", 0)
                wall = walls.get(f"encdec/{model}/{strategy}")
                print(
                    f"| {model} | {strategy} | {run.data.params.get('optim.lr')} | {m['best_val/f1']:.4f} | {m['test/f1']:.4f} | "
                    f"{m['test/precision']:.4f} | {m['test/recall']:.4f} | {m['test/acc']:.4f} | {int(m['params_trainable']):,} | "
                    f"{m['train_time_s']:.1f} | {m['train_time_s'] / max(steps, 1):.2f} | {'–' if wall is None else f'{wall:.0f}'} |"
                )
    if select_out:
        print("\nsweep.select on tweet_ner against the enc_dec_lora runs:\n" + select_out.strip())
    print("\nwall time of each command (s): " + ", ".join(f"{k} {v:.0f}" for k, v in walls.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="200/100/100 rows, 1 epoch: checks the script, not the numbers")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_tt"))
    parser.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--types", nargs="+", default=list(TASKS), choices=list(TASKS), help="task types of parts 1-3")
    parser.add_argument("--full-lr", type=float, default=LRS["full"], help="lr of strategy=full and of the Trainer")
    parser.add_argument("--strategies", nargs="+", default=list(LRS), choices=list(LRS), help="strategies of part 1")
    parser.add_argument("--ner-train", type=int, default=None, help="tweet_ner training rows of parts encdec, select (default: all)")
    parser.add_argument("--ner-lora-lr", type=float, default=3e-3, help="lora lr of part encdec (1e-3 leaves tweet_ner at all-O)")
    parser.add_argument("--ner-epochs", type=int, default=3)
    parser.add_argument("--select-models", nargs="+", default=["minilm_l6", "minilm_l3", "smollm2_135m"])
    args = parser.parse_args()
    LRS["full"] = args.full_lr
    for kind in [kind for kind in TASKS if kind not in args.types]:
        del TASKS[kind]
    args.sizes = QUICK_SIZES if args.quick else []
    # quick: 400 tweets, so that every tag has >= 2 words (sweep.select's k-NN probe needs 2 per class; with
    # val/test 100, 300 training tweets have a tag of 1 word)
    args.ner_sizes = [f"task.train_size={args.ner_train}"] if args.ner_train else []
    if args.quick:
        args.ner_sizes = ["task.train_size=400", *QUICK_SIZES[1:]]
    if args.quick:
        args.epochs = args.ner_epochs = 1
        args.dir = args.dir / "quick"
    args.dir = args.dir.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", message=".*is not available", category=UserWarning)  # hydra's zoo searchpath
    print(f"CPU: {cpu()}; working in {args.dir}", flush=True)
    walls = Walls(args.dir / "walls.json")  # command walls of earlier parts run into the same folder are kept
    start = time.perf_counter()
    base = hf_results = select_out = None
    if "finetune" in args.parts:
        finetune(args, walls)
    if "baselines" in args.parts:
        base = baselines(args)
    if "hf" in args.parts:
        hf_results = hf(args, walls)
        (args.dir / "hf" / "results.json").write_text(json.dumps(hf_results))
    elif (args.dir / "hf" / "results.json").exists():
        hf_results = json.loads((args.dir / "hf" / "results.json").read_text())
    if "encdec" in args.parts:
        encdec(args, walls)
    if "select" in args.parts:
        select_out = select(args, walls)
        (args.dir / "select.txt").write_text(select_out)
    elif (args.dir / "select.txt").exists():
        select_out = (args.dir / "select.txt").read_text()
    report(args, walls, base, hf_results, select_out)
    print(f"\nthis invocation: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
