"""The teacher of token-level distillation for generation (task types seq2seq and causal_lm).

The student learns each target token's distribution from the teacher as well as the reference token
(lightning_modules/generation.py ``token_distillation_loss``). The teacher is run once over the student's own
encoded training rows, teacher-forced, and at every target position keeps its top ``TOP_K`` logits and their
token ids, cached on disk per (teacher, split) like a classifier teacher's logits (sweep/pipeline/teacher.py):
every epoch, job and trial after the first reads them back. Why top-k and not every logit: a 49k-token
vocabulary would cache 200 KB per target token (2,000 rows of 10 tokens: 4 GB); at k = 32 it is 256 bytes,
and the probability beyond the teacher's top 32 tokens is negligible for a trained teacher at T <= 2 (the
measured share is logged as ``teacher_topk_mass``).

The teacher must read the rows as the student does, so it is refused (one line, before a run opens) unless it
has the student's tokenizer (one vocabulary: the two distributions are over the same tokens) and the same
layout (encoder-decoder or decoder). ``distill.teacher``: a kept generation run (``runs:/``, or a model name
resolved to its best kept run), or a folder or hub id holding a ``*ForCausalLM`` / ``*ForConditionalGeneration``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.config.errors import ConfigError
from sweep.pipeline.sources import TEACHER_KEY as KEY
from sweep.pipeline.sources import Sources

TOP_K = 32
IGNORE = -100


@dataclass
class TaughtTokens:
    extras: dict  # the training rows' per-row "teacher_ids" and "teacher_logits" ([targets, k] each)
    metrics: dict[str, float]  # the teacher's perplexity on val and test, and its top-k probability mass
    timings: dict[str, float]


def teach_tokens(sources: Sources, encoded: dict, student, tokenizer, batch_size: int, cache_dir: Path) -> TaughtTokens:
    """Load the teacher, check it reads rows as ``student`` (a Generator) does, and its top-k logits of the
    training split (its perplexity on val and test for comparison), from the cache after the first job."""
    start = time.perf_counter()
    teacher, teacher_tokenizer, fingerprint = load_generation_teacher(sources, cache_dir)
    # the vocabularies, not the tokenizers' whole serialisations: a kept tokenizer carries its padding settings
    if teacher_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ConfigError(
            KEY,
            f"the teacher's tokenizer ({len(teacher_tokenizer)} tokens) is not the student's ({len(tokenizer)} tokens): token-level "
            "distillation compares two distributions over one vocabulary; choose a teacher with the student's tokenizer",
            sources.teacher_name or sources.teacher,
        )
    if teacher.is_encoder_decoder != student.is_encoder_decoder:
        layouts = {True: "an encoder-decoder", False: "a decoder"}
        raise ConfigError(
            KEY,
            f"the teacher is {layouts[teacher.is_encoder_decoder]}, the student {layouts[student.is_encoder_decoder]}: they read a row "
            "differently (source alone, or source and target joined); choose a teacher of the student's family",
            sources.teacher_name or sources.teacher,
        )
    timings = {"load_teacher_s": time.perf_counter() - start}
    start, hits, metrics, extras = time.perf_counter(), 0, {}, {}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for name in ("train", "val", "test"):
        split = encoded[name]
        if not len(split):
            continue
        (ids, logits, offsets), stats, hit = top_logits(teacher, split, pad, batch_size, cache_dir, fingerprint)
        hits += hit
        if name == "train":
            extras = ragged(ids, logits, offsets)
            metrics["teacher_topk_mass"] = stats["mass"]
        else:
            metrics[f"teacher_{name}_perplexity"] = math.exp(min(stats["loss"], 50.0))
    timings.update(teacher_s=time.perf_counter() - start, teacher_cache_hits=hits)
    return TaughtTokens(extras, metrics, timings)


def load_generation_teacher(sources: Sources, cache_dir: Path):
    """(Generator in eval mode, its tokenizer, a fingerprint of its weights)."""
    named = sources.teacher_name or sources.teacher
    if sources.kept_teacher:
        from sweep.tracking.saved_models import load_saved_classifier

        try:
            model, tokenizer, _ = load_saved_classifier(sources.teacher, sources.tracking_uri, cache_dir, generates=True)
        except ConfigError as error:  # it names model.source; here the run is the teacher
            raise ConfigError(KEY, error.message, named) from None
        return model.eval(), tokenizer, sources.teacher
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from sweep.models.generator import Generator
    from sweep.zoo.fingerprints import folder_fingerprint

    try:
        config = AutoConfig.from_pretrained(sources.teacher)
    except (OSError, ValueError) as error:
        raise ConfigError(
            KEY, f"not a runs:/ URI, a model in conf/model/ or a loadable model ({str(error).splitlines()[0]})", named
        ) from None
    auto = "AutoModelForSeq2SeqLM" if getattr(config, "is_encoder_decoder", False) else "AutoModelForCausalLM"
    try:
        lm = getattr(transformers, auto).from_pretrained(sources.teacher, use_safetensors=True, dtype="float32")
        tokenizer = AutoTokenizer.from_pretrained(sources.teacher)
    except (OSError, ValueError) as error:
        raise ConfigError(KEY, f"cannot load it as a language model: {str(error).splitlines()[0]}", named) from None
    return Generator(lm).eval(), tokenizer, folder_fingerprint(sources.teacher)


def top_logits(teacher, split, pad: int, batch_size: int, cache_dir: Path, fingerprint: str):
    """The teacher's top-k (ids, logits) at every target position of ``split``'s rows, packed row after row
    (``offsets``: row i owns positions offsets[i]:offsets[i + 1]); with its mean target loss and top-k mass."""
    from sweep.data.atomic import atomic_write

    key = hashlib.sha256(f"{fingerprint}|{split.key}|generation-top{TOP_K}".encode()).hexdigest()[:24]
    path = cache_dir / "teacher_logits" / f"{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            return (
                (stored["ids"], stored["logits"], stored["offsets"]),
                {"loss": float(stored["loss"]), "mass": float(stored["mass"])},
                True,
            )
    ids, logits, offsets, stats = _run(teacher, split, pad, batch_size)
    arrays = {"ids": ids, "logits": logits, "offsets": offsets, "loss": np.float64(stats["loss"]), "mass": np.float64(stats["mass"])}
    atomic_write(path, lambda handle: np.savez(handle, **arrays))
    return (ids, logits, offsets), stats, False


def _run(teacher, split, pad: int, batch_size: int):
    import torch
    import torch.nn.functional as F

    from sweep.data.loaders import eval_loader

    loader = eval_loader(split, batch_size, pad)
    per_row: dict[int, tuple] = {}
    loss_sum, tokens, mass_sum = 0.0, 0, 0.0
    with torch.no_grad():
        for rows, batch in zip(_batches_of(loader), loader):
            logits, labels = teacher.aligned(batch)
            taught = labels != IGNORE
            picked = logits[taught].float()
            loss_sum += float(F.cross_entropy(picked, labels[taught], reduction="sum"))
            tokens += int(taught.sum())
            top = picked.topk(min(TOP_K, picked.size(-1)), dim=-1)
            mass_sum += float(picked.softmax(-1).gather(-1, top.indices).sum())
            counts = taught.sum(1).tolist()
            for row, values, indices in zip(rows, top.values.split(counts), top.indices.split(counts)):
                per_row[row] = (indices.numpy().astype(np.int32), values.numpy().astype(np.float32))
    order = [per_row[row] for row in range(len(split))]
    offsets = np.concatenate([[0], np.cumsum([len(ids) for ids, _ in order])]).astype(np.int64)
    k = order[0][0].shape[1] if order else TOP_K
    ids = np.concatenate([ids for ids, _ in order]) if order else np.zeros((0, k), np.int32)
    logits = np.concatenate([values for _, values in order]) if order else np.zeros((0, k), np.float32)
    return ids, logits, offsets, {"loss": loss_sum / max(tokens, 1), "mass": mass_sum / max(tokens, 1)}


def _batches_of(loader):
    """The row indices of each batch of an evaluation loader (its sampler's order, in batch-size runs)."""
    order = list(loader.sampler)
    for start in range(0, len(order), loader.batch_size):
        yield order[start : start + loader.batch_size]


def ragged(ids: np.ndarray, logits: np.ndarray, offsets: np.ndarray) -> dict:
    """Per-row arrays (object arrays of [targets, k]) for the training rows' batches (zero-padded per batch)."""
    rows = len(offsets) - 1
    out = {"teacher_ids": np.empty(rows, dtype=object), "teacher_logits": np.empty(rows, dtype=object)}
    out["teacher_ids"][:] = [ids[offsets[i] : offsets[i + 1]] for i in range(rows)]
    out["teacher_logits"][:] = [logits[offsets[i] : offsets[i + 1]] for i in range(rows)]
    return out
