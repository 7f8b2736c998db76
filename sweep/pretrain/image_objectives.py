"""Supervised image classification as a pre-training objective (``pretrain.objective=image_classification``,
vision family): train a ViT with its classification head on a labelled image task (e.g. Fashion-MNIST),
then keep the ViT without that head, for ``sweep.run`` to fine-tune on another image task (MNIST, digits).

This is how ViTs were pre-trained in their paper (ImageNet-21k labels); no ViT weights ship in any package
here, so it is also the only way to a pretrained ViT on this machine. Rows come from the vision family's
own preprocessing (sweep/data/pipelines.py: the image processor, index-batched loaders), the loss and its
metrics from lightning_modules/language_modeling.py, whose token-level cross-entropy over ``labels`` is
the image-level one when each row has one label (``val/acc`` is then the classification accuracy).
"""

from __future__ import annotations

from pathlib import Path


def build_image_model(root, objective):
    """``AutoModelForImageClassification`` over ``model.source`` with one output per label of the task;
    returns (model, image processor, tensors initialised fresh)."""
    import pytorch_lightning as pl
    import transformers
    from transformers import AutoConfig

    from sweep.config.errors import ConfigError
    from sweep.data.pipelines import pipeline_for
    from sweep.data.tasks import load_splits
    from sweep.zoo.loader import resolve_source

    model_cfg, cache_dir = root.model, Path(root.paths.cache_dir)
    processor = pipeline_for(model_cfg.family).load_processor(model_cfg, cache_dir)
    # the task's declared labels (every image task lists them); reading the images only for their names
    # would read them twice: build_image_loaders reads them for the rows
    labels = list(root.task.labels) if root.task.labels is not None else load_splits(root.task).label_names
    auto = getattr(transformers, objective.auto_class)
    path = resolve_source(model_cfg.source, "model.source", cache_dir)
    names = {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {name: i for i, name in enumerate(labels)}}
    pl.seed_everything(root.seed, verbose=False)
    try:
        if path is None:
            model = auto.from_config(AutoConfig.for_model(model_cfg.source.partition(":")[2], **{**model_cfg.config_overrides, **names}))
            fresh = 0
        else:  # a pretrained ViT: a head for these labels, whatever head it had
            config = AutoConfig.from_pretrained(path, trust_remote_code=False, **{**model_cfg.config_overrides, **names})
            model, info = auto.from_pretrained(
                path, config=config, use_safetensors=True, dtype="float32", ignore_mismatched_sizes=True, output_loading_info=True
            )
            fresh = len(info["missing_keys"]) + len(info["mismatched_keys"])
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(
            "model.source", f"cannot build a {objective.auto_class} from it: {str(e).splitlines()[0]}", model_cfg.source
        ) from None
    model.train()
    return model, processor, fresh


def build_image_loaders(root, objective, processor):
    """Training and validation batches of the task's labelled images (pixel_values, labels); the training
    images augmented as ``augment`` says (augment=images: shifts and crops)."""
    from sweep.data.augment import AUGMENTERS
    from sweep.data.pipelines import pipeline_for
    from sweep.data.tasks import load_splits

    pipeline, optim = pipeline_for(root.model.family), root.optim
    splits = load_splits(root.task)
    train, _ = pipeline.encode(splits.train, processor, root.task, None, "")
    val, _ = pipeline.encode(splits.val, processor, root.task, None, "")
    augmenter = AUGMENTERS.get(root.augment.name).make(root.augment, processor, train, root.seed, root.task.max_length)
    loaders = {
        "train": pipeline.train_loader(train, processor, optim.batch_size, root.seed, augmenter=augmenter),
        "val": pipeline.eval_loader(val, processor, optim.eval_batch_size),
    }
    return loaders, {"train": len(train), "val": len(val)}, 0
