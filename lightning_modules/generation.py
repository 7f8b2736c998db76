"""Generation (task types seq2seq and causal_lm): teacher-forced loss on every step, generated text scored.

``TextGeneration`` (the objective) holds the per-stage token loss sums and the text metrics; the
``GenerationModule`` (the LightningModule) runs the model teacher-forced for the loss, and at validation and
test also generates with the KV cache (greedy or beam search, ``task.generate``) and feeds the texts to the
objective. Generating is most of a validation's cost: a fit's validations generate only the split's first
``task.generate.val_rows`` rows (the same rows every time, so that the best validation is chosen among scores of
the same rows); an evaluation without training (``trainer.fit=false``) and the test generate every row. What
each generating stage cost is logged beside its metrics (``<stage>/generate_s``, ``generated_tokens``,
``generated_rows``, ``tokens_per_s``), and a few (source, reference, prediction) rows as an MLflow table
artifact, ``generations/<stage>-step<N>.json``, so the UI shows what the model writes.

Metrics are torchmetrics' (ROUGE F-measures without stemming, SacreBLEU with its 13a tokenizer, chrF), all on a
0..1 scale (sacrebleu's command line prints BLEU and chrF times 100); ``exact_match`` after trimming whitespace.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric

from lightning_modules.classification import SequenceClassificationModule
from lightning_modules.objectives import STAGES, Objective, by_stage, per_task_formulas, seen_on_any_rank

IGNORE = -100
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


class ExactMatch(Metric):
    """Share of predictions equal to their reference after trimming whitespace (int64 counts, DDP-summed)."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("matched", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("rows", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, predictions: list[str], references: list[str]) -> None:
        self.matched += sum(p.strip() == r.strip() for p, r in zip(predictions, references))
        self.rows += len(predictions)

    def compute(self) -> torch.Tensor:
        return torch.tensor(float(self.matched) / max(float(self.rows), 1.0), dtype=torch.float64)


def text_metrics(scores: tuple[str, ...]) -> nn.ModuleDict:
    """The metrics of generated text, by what the type scores (``rouge``, ``bleu``, ``chrf``, ``exact_match``)."""
    from torchmetrics.text import CHRFScore, ROUGEScore, SacreBLEUScore

    makers = {
        "rouge": lambda: ROUGEScore(rouge_keys=ROUGE_KEYS),
        "bleu": lambda: SacreBLEUScore(tokenize="13a"),
        "chrf": CHRFScore,
        "exact_match": ExactMatch,
    }
    return nn.ModuleDict({name: makers[name]() for name in scores})


def token_distillation_loss(student: torch.Tensor, labels: torch.Tensor, teacher_ids: torch.Tensor, teacher_logits: torch.Tensor,
                            alpha: float, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """α·CE(student, target) + (1 − α)·T²·KL(teacher_T ‖ student_T) over the target positions, both means over them.

    ``student`` [B, T, V] and ``labels`` [B, T] are aligned (-100: not a target position). The teacher comes as its
    top-k logits at each row's target positions, in order and packed to the left (``teacher_ids`` and
    ``teacher_logits``, [B, W, k], zero-padded after a row's n targets): its distribution is the softmax over those
    k (sweep/pipeline/generation_teacher.py: the mass beyond them is negligible), and the student's
    log-probabilities are read at the same k ids after a log-softmax over its whole vocabulary.
    Returns (loss, the CE part)."""
    taught = labels != IGNORE
    count = taught.sum().clamp(min=1)
    hard = F.cross_entropy(student.flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum") / count
    # row i's targets fill the first n_i slots of its teacher rows: the same order as student[taught]
    slots = torch.arange(teacher_ids.size(1), device=labels.device) < taught.sum(1, keepdim=True)
    t = temperature
    student_log = F.log_softmax(student[taught] / t, -1).gather(-1, teacher_ids[slots].long())
    teacher_log = F.log_softmax(teacher_logits[slots].float() / t, -1)
    soft = (teacher_log.exp() * (teacher_log - student_log)).sum() / count
    return alpha * hard + (1.0 - alpha) * t**2 * soft, hard


class TextGeneration(Objective):
    """Token cross-entropy over the target positions (labels -100 elsewhere); per stage the token-weighted mean
    loss's ``perplexity``, and the text metrics of whatever was generated in the stage.

    Multi-task training (``task_names``: several generation sub-tasks, one language model): the text metrics of
    each sub-task's rows (``val/<task>/rougeL``) and their unweighted mean (``val/rougeL``), as for classifiers."""

    def __init__(self, scores: tuple[str, ...], distill=None, task_names: list[str] | None = None):
        super().__init__()
        self.scores = tuple(scores)
        self.task_names = list(task_names) if task_names else None
        parts = len(self.task_names) if self.task_names else 1
        self.texts = by_stage(lambda: nn.ModuleList([text_metrics(self.scores) for _ in range(parts)]))
        self.sums = {stage: [0.0, 0] for stage in STAGES}  # summed token loss, target tokens
        self.generated = {stage: [False] * parts for stage in STAGES}
        self.alpha = distill.alpha if distill is not None else None
        self.temperature = distill.temperature if distill is not None else None

    def loss(self, logits: torch.Tensor, batch: dict, stage: str) -> torch.Tensor:
        labels = batch["labels"]
        if stage == "train" and self.alpha is not None:
            loss, hard = token_distillation_loss(
                logits.float(), labels, batch["teacher_ids"], batch["teacher_logits"], self.alpha, self.temperature
            )
        else:
            count = (labels != IGNORE).sum().clamp(min=1)
            loss = hard = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum") / count
        # summed as tensors: reading them back (a device sync) waits for the stage's end, not every step
        tokens = (labels != IGNORE).sum()
        self.sums[stage][0] = self.sums[stage][0] + hard.detach().double() * tokens
        self.sums[stage][1] = self.sums[stage][1] + tokens
        return loss

    def update(self, logits: torch.Tensor, batch: dict, stage: str) -> None:
        """The loss sums are taken in ``loss``: the logits of a whole vocabulary are not kept."""

    def update_texts(self, stage: str, predictions: list[str], references: list[str], tasks: list[int] | None = None) -> None:
        """``tasks``: each row's sub-task (multi-task training); None: one task."""
        tasks = tasks if tasks is not None else [0] * len(predictions)
        for part in sorted(set(tasks)):
            mine = [i for i, task in enumerate(tasks) if task == part]
            guesses, truths = [predictions[i] for i in mine], [references[i] for i in mine]
            for name, metric in self.texts[f"{stage}_"][part].items():
                if name in ("bleu", "chrf"):  # one reference per prediction
                    metric.update(guesses, [[truth] for truth in truths])
                else:
                    metric.update(guesses, truths)
            self.generated[stage][part] = True

    def compute(self, stage: str) -> dict[str, torch.Tensor]:
        out = {}
        loss, tokens = (float(value) for value in self.sums[stage])
        if tokens:
            out[f"{stage}/perplexity"] = torch.tensor(math.exp(min(loss / tokens, 50.0)), dtype=torch.float64)
        per_metric: dict[str, list] = {}
        for part, generated in enumerate(seen_on_any_rank(self.generated[stage])):
            if not generated:
                continue
            values = {}
            for name, metric in self.texts[f"{stage}_"][part].items():
                value = metric.compute()
                if name == "rouge":
                    values.update({key: value[f"{key}_fmeasure"] for key in ROUGE_KEYS})
                else:
                    values[name] = value
            for name, value in values.items():
                per_metric.setdefault(name, []).append(torch.as_tensor(value, dtype=torch.float64))
                if self.task_names:
                    out[f"{stage}/{self.task_names[part]}/{name}"] = value
        out.update({f"{stage}/{name}": torch.stack(values).mean() for name, values in per_metric.items()})
        return out

    def example_statistics(self, logits: torch.Tensor, batch: dict, stage: str) -> dict[str, torch.Tensor]:
        """Per row its summed token loss and target tokens (perplexity); the text scores come after generating."""
        labels = batch["labels"]
        nll = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="none")
        return {"nll": nll.view(labels.shape).double().sum(1), "tokens": (labels != IGNORE).sum(1).double()}

    def record_texts(self, log, ids: list[int], predictions: list[str], references: list[str], tasks: list[int]) -> None:
        """Per generated row its text scores: ROUGE F-measures, exact match, and BLEU's and chrF's n-gram statistics."""
        from torchmetrics.functional.text import rouge_score

        from lightning_modules.text_statistics import bleu_statistics, chrf_statistics

        columns: dict = {"generated": [1.0] * len(ids)}
        if "rouge" in self.scores:
            scores = [rouge_score(p, r, rouge_keys=ROUGE_KEYS) for p, r in zip(predictions, references)]
            columns.update({key: [float(score[f"{key}_fmeasure"]) for score in scores] for key in ROUGE_KEYS})
        if "exact_match" in self.scores:
            columns["exact"] = [float(p.strip() == r.strip()) for p, r in zip(predictions, references)]
        if "bleu" in self.scores:
            columns["bleu_statistics"] = bleu_statistics(predictions, references)
        if "chrf" in self.scores:
            columns["chrf_statistics"] = chrf_statistics(predictions, references)
        for part in sorted(set(tasks)):
            mine = [i for i, task in enumerate(tasks) if task == part]
            prefix = f"{self.task_names[part]}/" if self.task_names else ""
            log.add([ids[i] for i in mine], {f"{prefix}{name}": [values[i] for i in mine] for name, values in columns.items()})

    def example_formulas(self) -> dict[str, list]:
        text = {key: ["ratio", key, "generated"] for key in ROUGE_KEYS if "rouge" in self.scores}
        text.update({name: [name, f"{name}_statistics"] for name in ("bleu", "chrf") if name in self.scores})
        if "exact_match" in self.scores:
            text["exact_match"] = ["ratio", "exact", "generated"]
        formulas = per_task_formulas({name: text for name in self.task_names}) if self.task_names else text
        return {**formulas, "perplexity": ["exp_ratio", "nll", "tokens"]}

    def reset(self, stage: str) -> None:
        for metrics in self.texts[f"{stage}_"]:
            for metric in metrics.values():
                metric.reset()
        self.sums[stage] = [0.0, 0]
        self.generated[stage] = [False] * len(self.generated[stage])


class GenerationModule(SequenceClassificationModule):
    """The shared training loop (optimizer, schedule, logging), with teacher-forced logits aligned to their
    labels and generation at validation and test."""

    def __init__(
        self, model, objective: TextGeneration, param_groups, schedule, tokenizer, generate, eos_id: int, pad_id: int, batch_size: int = 64
    ):
        super().__init__(model, objective, param_groups, schedule)
        self.tokenizer = tokenizer
        self.generate_config = generate  # task.generate
        self.eos_id = eos_id  # what ends a generated text (sweep/data/generation_tokens.py end_of_sequence)
        self.pad_id = pad_id  # what pads a batch of prompts (sweep/data/pipelines.py pad_id)
        self.generate_batch_size = batch_size  # rows generated together (optim.eval_batch_size)
        self.pending: dict[str, list] = {stage: [] for stage in STAGES}  # rows collected to generate at the stage's end
        self.row_limit: int | None = None  # rows below it generate in this evaluation; None: all
        self.cost = {stage: [0.0, 0, 0] for stage in STAGES}  # seconds, generated tokens, generated rows
        self.examples: dict[str, list] = {stage: [] for stage in STAGES}

    # ------------------------------------------------------------------------------------------ teacher forced
    def step(self, batch: dict, stage: str) -> torch.Tensor:
        logits, labels = self.model.aligned(batch)  # logits[:, t] predicts labels[:, t] (sweep/models/generator.py)
        loss = self.objective.loss(logits, {**batch, "labels": labels}, stage)
        if stage == "train" and not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} at step {self.global_step}")
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=labels.size(0), sync_dist=True)
        if stage != "train":
            self.record_examples({**batch, "labels": labels}, logits.detach(), loss.detach(), stage)
        return loss

    # ---------------------------------------------------------------------------------------------- generation
    def whole_split(self) -> bool:
        """This evaluation generates every row: a test, or an evaluation without training. A fit's validations all
        generate the same subset (``val_rows``), so that the best one (early stopping, the restored weights, the
        search) is chosen among scores of the same rows: a last validation on every row once outscored by a
        64-row one chose the 64-row step's weights."""
        return self.trainer.state.fn != "fit" or self.generate_config.val_rows is None

    def on_validation_epoch_start(self) -> None:
        self.row_limit = None if self.whole_split() else self.generate_config.val_rows

    def on_test_epoch_start(self) -> None:
        self.row_limit = None

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.step(batch, "val")
        self.collect(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.step(batch, "test")
        self.collect(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self.generate_collected("val")
        super().on_validation_epoch_end()

    def on_test_epoch_end(self) -> None:
        self.generate_collected("test")
        super().on_test_epoch_end()

    def collect(self, batch: dict, stage: str) -> None:
        """Keep what generation needs of this batch's rows that generate in this evaluation: its prompt (a
        decoder's: the positions before the first labelled one; an encoder-decoder's: the source), its reference
        ids, its row and sub-task. They generate together at the evaluation's end (``generate_collected``): a
        subset spread over every batch of the split generates in as few batches as it fills, not in as many as
        the split has (a greedy loop costs about as much for 10 rows as for 100 on a CPU)."""
        ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
        chosen = torch.ones(ids.size(0), dtype=torch.bool, device=ids.device)
        if self.row_limit is not None:
            chosen = batch["row"] < self.row_limit
        if self.model.is_encoder_decoder:
            lengths = mask.sum(1)
        else:  # the prompt: up to the first labelled (response) position
            positions = torch.arange(labels.size(1), device=labels.device)
            lengths = torch.where(labels != IGNORE, positions, labels.size(1)).amin(1)
        rows = batch["row"].tolist() if "row" in batch else list(range(ids.size(0)))
        tasks = batch["task"].tolist() if "task" in batch else [0] * ids.size(0)
        examples = batch["example"].tolist() if "example" in batch else [None] * ids.size(0)
        for i in torch.nonzero(chosen).flatten().tolist():
            reference = labels[i][labels[i] != IGNORE]
            self.pending[stage].append((ids[i, : int(lengths[i])], reference, rows[i], tasks[i], examples[i]))

    def generate_collected(self, stage: str) -> None:
        """Generate every collected row, in batches of rows of similar prompt length, then score and log them."""
        pending, self.pending[stage] = sorted(self.pending[stage], key=lambda item: len(item[0])), []
        config = self.generate_config
        options = {"max_new_tokens": config.max_new_tokens, "num_beams": config.num_beams, "do_sample": False,
                   "pad_token_id": self.pad_id, "eos_token_id": self.eos_id}  # fmt: skip
        if config.num_beams > 1:
            options["length_penalty"] = config.length_penalty
        for start in range(0, len(pending), self.generate_batch_size):
            chunk = pending[start : start + self.generate_batch_size]
            prompts, references, rows, tasks, examples = zip(*chunk)
            inputs, mask = padded(list(prompts), self.pad_id, left=not self.model.is_encoder_decoder)
            began = time.perf_counter()
            generated = self.model.generate(inputs, mask, **options)
            seconds = time.perf_counter() - began
            lengths = generated_lengths(generated, self.eos_id)
            predictions = self.decode([row[:n] for row, n in zip(generated, lengths.tolist())])
            truths = self.decode(list(references))
            self.objective.update_texts(stage, predictions, truths, list(tasks))
            if stage in self.example_logs and None not in examples:
                self.objective.record_texts(self.example_logs[stage], list(examples), predictions, truths, list(tasks))
            cost = self.cost[stage]
            cost[0], cost[1], cost[2] = cost[0] + seconds, cost[1] + int(lengths.sum()), cost[2] + len(chunk)
            if config.examples:
                self.examples[stage] += list(zip(rows, tasks, prompts, truths, predictions))  # prompts decoded if logged

    def decode(self, rows: list[torch.Tensor]) -> list[str]:
        return [text.strip() for text in self.tokenizer.batch_decode([row.tolist() for row in rows], skip_special_tokens=True)]

    def log_metrics(self, stage: str) -> None:
        seconds, tokens, rows = self.cost[stage]
        if rows:
            cost = {
                "generate_s": seconds,
                "generated_tokens": float(tokens),
                "generated_rows": float(rows),
                "tokens_per_s": tokens / max(seconds, 1e-9),
            }
            self.log_dict({f"{stage}/{name}": value for name, value in cost.items()}, sync_dist=True)
            self.log_examples(stage)
        self.cost[stage] = [0.0, 0, 0]
        super().log_metrics(stage)

    def log_examples(self, stage: str) -> None:
        """The first rows of the split that generated (by row), as an MLflow table under generations/."""
        # the first rows of the split (of each sub-task's, in turn)
        examples = sorted(self.examples[stage], key=lambda example: example[:2])[: self.generate_config.examples]
        self.examples[stage] = []
        logger = self.logger
        if not examples or logger is None or not hasattr(logger, "run_id") or self.global_rank != 0:
            return
        _, _, prompts, references, predictions = zip(*examples)
        data = {"source": self.decode(list(prompts)), "reference": list(references), "prediction": list(predictions)}
        logger.experiment.log_table(logger.run_id, data=data, artifact_file=f"generations/{stage}-step{self.global_step:06d}.json")


def padded(rows: list[torch.Tensor], pad: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of token ids as one batch and its attention mask: padded on the left for a decoder, whose generation
    appends at the right end, on the right for an encoder's source."""
    width = max(len(row) for row in rows)
    ids = rows[0].new_full((len(rows), width), pad)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        place = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, place], mask[i, place] = row, 1
    return ids, mask


def generated_lengths(generated: torch.Tensor, eos: int) -> torch.Tensor:
    """Tokens each row generated, its end-of-sequence token included (the padding after it not)."""
    is_end = generated == eos
    first_end = torch.where(is_end.any(1), is_end.float().argmax(1) + 1, torch.full_like(is_end[:, 0], generated.size(1), dtype=torch.long))
    return first_end.long()
