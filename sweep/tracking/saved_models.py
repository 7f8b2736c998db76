"""Trained models kept as an MLflow artifact (``model``), and loaded back from ``runs:/<run_id>/model``.

A run keeps what it trained, and only that:
- backbone ``full`` (full, partial): the backbone's config.json and its weights (model.safetensors, under the
  names the model has in memory);
- backbone ``adapter`` (every PEFT method: lora, prompt, prefix, ptuning, ia3, adalora, loha, lokr, vera,
  ln_tuning): PEFT's ``save_pretrained`` of the wrapped backbone; the base is rebuilt from its source (``base``
  in the metadata); ``bitfit`` wraps nothing and is kept as ``full``;
- backbone ``base`` (feature, or anything that left the backbone frozen): nothing; the base is rebuilt.
A pre-trained backbone (``python -m sweep.pretrain``) is kept as ``full`` with ``"headless": true`` in the
metadata and no head file: a job on it makes a fresh head for its task (``classifier_from_run``).
Otherwise always: ``head.safetensors`` (every tensor of the SequenceClassifier outside its backbone: with several
heads one day, the same file still round-trips), the tokenizer as the run used it, and ``sweep_model.json``
(what the loader needs: family, pooling, hidden size, labels, the base source, its config overrides, ...).

A ``random:`` base (tests) is rebuilt from the run's seed, as the run built it. A base that is itself a
``runs:/`` source (a model trained on from a kept one) is loaded the same way, recursively: that run's
model must still be there.

Loading (``load_saved_classifier``, the one entry point, also for teachers): an adapter of the weights (LoRA,
AdaLoRA, (IA)^3, LoHa, LoKr, VeRA, LN tuning) is merged into its base (``merge_and_unload``), so any strategy
trains on from it. A prompt-, prefix- or P-tuned model keeps its PEFT wrapper: its virtual tokens only mean
something on their frozen base, so it can be evaluated, or its head trained on (``strategy=feature``); other
strategies on it are refused.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from sweep.config.errors import ConfigError

log = logging.getLogger(__name__)

ARTIFACT_PATH = "model"
METADATA_FILE = "sweep_model.json"
HEAD_FILE = "head.safetensors"
FORMAT_VERSION = 1
SCHEME = "runs:/"
HEADLESS = "headless"  # metadata: a pre-trained backbone without a classification head
# metadata: the files hold a whole language model, its LM head included (generation; clm and span pre-training),
# not only the part of it a classifier reads (``Family.take_backbone``)
LANGUAGE_MODEL = "language_model"
KEY = "model.source"


def is_saved_source(source: str) -> bool:
    return source.startswith(SCHEME)


# ---------------------------------------------------------------------------------------------- saving
def backbone_kind(model) -> str:
    """What of the backbone must be saved: nothing (it stayed as loaded), a PEFT adapter, or all of it."""
    from peft import PeftModel

    if not any(p.requires_grad for p in model.backbone.parameters()):
        return "base"
    return "adapter" if isinstance(model.backbone, PeftModel) else "full"


def head_state(model) -> dict:
    """Everything of the classifier except its backbone (today the head's weight and bias)."""
    return {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items() if not key.startswith("backbone.")}


def write_model(folder: Path, model, tokenizer, metadata: dict) -> dict:
    """Write a trained SequenceClassifier into ``folder``; returns the metadata written.

    ``metadata`` gives what the model itself cannot tell: strategy, base (source, tokenizer,
    config_overrides, name), family, label_names, seed, vocab_size. The rest is read from the model.
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    kind = backbone_kind(model)
    if kind == "adapter":  # a PeftModel saves its adapter only
        model.backbone.save_pretrained(folder, safe_serialization=True)
        (folder / "README.md").unlink(missing_ok=True)  # PEFT's empty model card template
    elif kind == "full":
        write_weights(folder, model.backbone)
    save_file(head_state(model), str(folder / HEAD_FILE))
    tokenizer.save_pretrained(folder)
    head = getattr(model, "head", None)  # None: a language model writes text with its own head (generation)
    full = {
        "format": FORMAT_VERSION,
        **metadata,
        "backbone": kind,
        "pooling": getattr(model, "pooling", None),  # a per-token head pools nothing
        "hidden_size": head.in_features if head is not None else model.backbone.config.hidden_size,
        "num_labels": head.out_features if head is not None else 0,  # the head's width: labels, tags, or 1 for a number
        "outputs": getattr(model, "outputs", head.out_features if head is not None else 0),  # mixed heads: (pooled, token) columns
        "dropout": model.dropout.p if head is not None else 0.0,
        LANGUAGE_MODEL: head is None,
    }
    (folder / METADATA_FILE).write_text(json.dumps(full, indent=2, default=str))
    return full


def write_weights(folder: Path, backbone) -> None:
    """config.json and model.safetensors of a plain backbone, under the names its tensors have in memory:
    transformers 5's save_pretrained writes some families under their old checkpoint names (ViT:
    encoder.layer.N.attention.attention.query), which only its own from_pretrained maps back, and
    _full_backbone loads strictly; safetensors' save_model also writes tied weights once."""
    from safetensors.torch import save_model

    backbone.config.save_pretrained(folder)
    save_model(backbone, str(folder / "model.safetensors"))


def write_backbone(folder: Path, backbone, tokenizer, metadata: dict) -> dict:
    """Write a pre-trained backbone (as the family's ``take_backbone`` sees it) without a head.

    ``metadata`` as for ``write_model`` (objective instead of strategy, no label_names), plus pooling,
    hidden_size and dropout: what a classifier built on it later starts from.
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_weights(folder, backbone)
    tokenizer.save_pretrained(folder)  # or the image processor
    full = {"format": FORMAT_VERSION, **metadata, "backbone": "full", HEADLESS: True, "label_names": [], "num_labels": 0}
    (folder / METADATA_FILE).write_text(json.dumps(full, indent=2, default=str))
    return full


# --------------------------------------------------------------------------------------------- loading
def parse_source(source: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` (path default ``model``) -> (run_id, path)."""
    run_id, _, path = source[len(SCHEME) :].strip("/").partition("/")
    if not run_id or not run_id.isalnum():  # also conf/model/saved.yaml's placeholder
        raise ConfigError(KEY, "give a run's id: model.source=runs:/<run_id>/model", source)
    return run_id, path or ARTIFACT_PATH


def fetch(source: str, tracking_uri: str, cache_dir: Path) -> Path:
    """The saved model's folder, downloaded once into the cache; ConfigError if the run or its model is gone.

    The store is asked every time (a model removed since it was cached must not load), the files only once.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from sweep.config.secrets import mask_secrets

    run_id, path = parse_source(source)
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        run = None
    if run is None or run.info.lifecycle_stage == "deleted":
        raise ConfigError(KEY, f"no such MLflow run in {mask_secrets(tracking_uri)}", source)
    complete = run.data.tags.get("model.kept") == "true"  # set once every file is in (kept_models.save_model)
    if not complete or METADATA_FILE not in {Path(a.path).name for a in client.list_artifacts(run_id, path)}:
        removed = run.data.tags.get("model.removed")
        why = f"its model was removed ({removed})" if removed else f"the run has no saved model (no {path}/{METADATA_FILE})"
        raise ConfigError(KEY, why, source)
    target = cache_dir / "saved" / run_id / path
    if not (target / METADATA_FILE).exists():  # downloaded beside, then renamed: parallel jobs never see half a model
        import mlflow.artifacts

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".download-"))
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=f"{SCHEME}{run_id}/{path}", tracking_uri=tracking_uri, dst_path=str(tmp))
            try:
                os.replace(tmp / path, target)
            except OSError:  # another job got there first
                if not (target / METADATA_FILE).exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_saved_classifier(source: str, tracking_uri: str, cache_dir: Path, headless_ok: bool = False, generates: bool = False):
    """Load a kept model: ``runs:/<run_id>/model`` -> (SequenceClassifier in eval mode, tokenizer, metadata).

    The classifier is built as the run built it, with the run's head loaded (its labels are
    ``metadata["label_names"]``). Raises ConfigError (naming ``model.source``) if the run or its model is gone.
    A pre-trained backbone (no head) loads only where the caller makes a head (``headless_ok``): a
    random one-label placeholder is in its place, never a teacher's. ``generates``: the whole language model is
    wanted (a generation job on a pre-trained one), as ``backbone``.
    """
    folder = fetch(source, tracking_uri, Path(cache_dir))
    if not headless_ok and json.loads((folder / METADATA_FILE).read_text()).get(HEADLESS):
        raise ConfigError(KEY, "a pre-trained backbone without a classification head: fine-tune it first", source)
    return load_folder(folder, tracking_uri, Path(cache_dir), source, generates)


def load_folder(folder: Path, tracking_uri: str | None, cache_dir: Path, source: str | None = None, generates: bool = False):
    """``load_saved_classifier`` for a folder written by ``write_model`` (tracking_uri: for a runs:/ base)."""
    import torch
    from safetensors.torch import load_file

    from sweep.data.pipelines import pipeline_for
    from sweep.models.heads import with_head

    metadata = json.loads((folder / METADATA_FILE).read_text())
    if metadata.get("format") != FORMAT_VERSION:
        raise ConfigError(KEY, f"saved in format {metadata.get('format')}; this version reads {FORMAT_VERSION}", source or str(folder))
    if metadata.get("family") == "dual_encoder":  # sweep/tracking/saved_dual.py
        raise ConfigError(
            KEY, "a kept dual encoder: it runs task.type=image_text jobs (its towers are not one classifier)", source or str(folder)
        )
    tokenizer = pipeline_for(metadata["family"]).saved_processor(folder)  # a tokenizer, or an image processor
    with torch.random.fork_rng(devices=[]):  # initialising what is then loaded leaves the caller's random state alone
        generates = generates or metadata.get("head") == "generate"
        if generates and not metadata.get(LANGUAGE_MODEL):
            raise ConfigError(
                KEY,
                f"a kept {metadata.get('task_type', 'classification')} model keeps no language-model head: it cannot generate",
                source or str(folder),
            )
        backbone = _backbone(folder, metadata, tracking_uri, cache_dir, generates)
        # a headless backbone gets a one-label placeholder head: classifier_from_run replaces it. Kept before task
        # types existed: a pooled head (classification)
        num_labels = max(metadata["num_labels"], 1)
        head = metadata.get("head", "pooled")
        outputs = metadata.get("outputs", num_labels) if not metadata.get(HEADLESS) else num_labels
        model = with_head(head, backbone, metadata["hidden_size"], outputs, metadata["pooling"] or "mean", metadata["dropout"])
    if metadata.get(HEADLESS):
        return model.eval(), tokenizer, metadata
    missing, unexpected = model.load_state_dict(load_file(str(folder / HEAD_FILE)), strict=False)
    wrong = [key for key in missing if not key.startswith("backbone.")] + list(unexpected)
    if wrong:
        raise ConfigError(KEY, f"the saved head does not fit the classifier: {', '.join(wrong)}", source or str(folder))
    return model.eval(), tokenizer, metadata


def _backbone(folder: Path, metadata: dict, tracking_uri: str | None, cache_dir: Path, generates: bool = False):
    kind = metadata["backbone"]
    if kind == "full":
        return _full_backbone(folder, metadata["family"], bool(metadata.get(LANGUAGE_MODEL)), generates)
    base = _base_backbone(metadata, tracking_uri, cache_dir, generates)
    if kind == "base":
        return base
    from peft import PeftModel

    wrapped = PeftModel.from_pretrained(base, str(folder))
    if not wrapped.peft_config["default"].is_prompt_learning:  # LoRA and its kin, (IA)^3, VeRA, LoHa, LoKr, LN tuning
        return wrapped.merge_and_unload()  # a plain backbone again: any strategy can train on from it
    return wrapped  # prompt, prefix or P-tuning: the virtual tokens stay a wrapper around their frozen base


def _full_backbone(folder: Path, family: str, language_model: bool = False, generates: bool = False):
    """The architecture from config.json, then the saved weights (strict): works for every family,
    also for an encoder-decoder's encoder, which ``AutoModel.from_pretrained`` would not rebuild.
    ``language_model``: the files hold the whole model with its LM head; given whole where it ``generates``,
    else the part a classifier reads."""
    import transformers
    from safetensors.torch import load_model
    from transformers import AutoConfig, AutoModel

    from sweep.models.families import FAMILIES
    from sweep.zoo.loader import _no_pooler

    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    take = FAMILIES.get(family).take_backbone
    if language_model:
        whole = getattr(transformers, FAMILIES.get(family).generates).from_config(config)
        load_model(whole, str(folder / "model.safetensors"), strict=True)
        return whole if generates else take(whole.base_model)
    backbone = take(AutoModel.from_config(config, **_no_pooler(config)))
    load_model(backbone, str(folder / "model.safetensors"), strict=True)
    return backbone


def _base_backbone(metadata: dict, tracking_uri: str | None, cache_dir: Path, generates: bool = False):
    import torch

    from sweep.config.schema import ModelConfig
    from sweep.zoo.loader import load_backbone

    base = metadata["base"]
    if is_saved_source(base["source"]):
        if tracking_uri is None:
            raise ConfigError(KEY, "its base is a kept model: loading it needs the tracking store", base["source"])
        return load_saved_classifier(base["source"], tracking_uri, cache_dir, headless_ok=True, generates=generates)[0].backbone
    config = ModelConfig(
        name=base.get("name") or "base", source=base["source"], tokenizer=base.get("tokenizer"), family=metadata["family"],
        config_overrides=dict(base.get("config_overrides") or {}),
    )  # fmt: skip
    torch.manual_seed(metadata["seed"])  # a random: base is rebuilt from the run's seed, as the run built it
    return load_backbone(config, cache_dir, vocab_size=metadata.get("vocab_size"), generates=generates)


# ------------------------------------------------------------------------------------ a job on a kept one
def classifier_from_run(job, label_names: list[str], cache_dir: Path, task_type, fitted: dict, head: str | None = None, outputs=None):
    """The model, tokenizer and fitted target metadata of a job whose ``model.source`` is ``runs:/...``, ready for
    its strategy.

    Family and pooling are the saved model's (``job.root.model`` is updated to them). The saved head is kept when
    it was trained for the same task type and the same labels, in the same order; with it, what the type fitted on
    the run's training split (a regression target's scale), which the head's outputs mean. Otherwise a fresh head
    of the job's type is made on the saved backbone, with ``fitted`` (from this job's training split). ``head`` and
    ``outputs``: the job's head and width where they are not the type's own (multi-task training across types).
    """
    import pytorch_lightning as pl
    from peft import PeftModel

    from sweep.models.families import check_family
    from sweep.models.heads import with_head
    from sweep.strategies import STRATEGIES
    from sweep.tracking.store import tracking_uri

    root = job.root
    uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
    generates = task_type.head == "generate"
    model, tokenizer, metadata = load_saved_classifier(root.model.source, uri, cache_dir, headless_ok=True, generates=generates)
    check_family(
        metadata["family"], root.model.source, root.task, job.strategy.name, STRATEGIES.names()
    )  # the config check could not know it
    task_type.check_model(metadata["family"], root.model.source)
    pooling = metadata["pooling"] or root.model.pooling
    root.model.family, root.model.pooling = metadata["family"], pooling
    if isinstance(model.backbone, PeftModel) and root.trainer.fit and job.strategy.name != "feature":
        raise ConfigError(
            "strategy",
            "a kept prompt-, prefix- or P-tuned model can be evaluated (trainer.fit=false) or its head trained (strategy=feature)",
            job.strategy.name,
        )
    pl.seed_everything(root.seed, verbose=False)
    saved_type = metadata.get("task_type", "classification")  # kept before task types: classification
    head = head or task_type.head
    outputs = outputs if outputs is not None else task_type.outputs(label_names)
    same_head = metadata.get("head", "pooled") == head
    if saved_type == task_type.name and same_head and list(label_names) == list(metadata["label_names"]) and not metadata.get(HEADLESS):
        fitted = dict(metadata.get("fitted") or {})
    else:
        saved = "a pre-trained backbone" if metadata.get(HEADLESS) else f"the saved {saved_type} model's {metadata['label_names']}"
        log.info("%s labels %s: a fresh head on %s", task_type.name, label_names, saved)
        family_pooling = pooling or "mean"
        model = with_head(head, model.backbone, metadata["hidden_size"], outputs, family_pooling, 0.0)
    if hasattr(model, "dropout"):  # a classifier's head; a language model's dropout is its config's
        model.dropout.p = root.model.dropout
    return model, tokenizer, fitted
