"""Rebuild paraphrase-MiniLM-L3-v2 as a Hugging Face BERT folder from the packaged ONNX export.

The package ships only a float32 ONNX graph: no config, no tokenizer. Its weights map onto a
``BertModel`` exactly: initializers named ``model.0.auto_model.*`` are BERT tensors as they are; every
anonymous ``onnx::MatMul_*`` initializer is a Linear weight (stored transposed), named by the ``.bias``
initializer of the ``Add`` node that consumes the MatMul's output. The config is MiniLM-L6's with three
layers, the tokenizer is L6's (same vocabulary). Converted once, then cached as safetensors.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "model.0.auto_model."
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def onnx_state_dict(onnx_path: Path) -> dict:
    """BERT state dict (names without the sentence-transformers prefix) read from the ONNX initializers."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    tensors = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    state = {name[len(PREFIX) :]: torch.from_numpy(value.copy()) for name, value in tensors.items() if name.startswith(PREFIX)}
    for node in graph.node:
        if node.op_type != "MatMul" or not node.input[1].startswith("onnx::MatMul"):
            continue
        add = next(n for n in consumers[node.output[0]] if n.op_type == "Add")
        bias = next(name for name in add.input if name.endswith(".bias"))
        weight = bias[len(PREFIX) : -len(".bias")] + ".weight"
        state[weight] = torch.from_numpy(tensors[node.input[1]].T.copy())
    return state


def rebuild_minilm_l3(onnx_path: Path, l6_folder: Path, target: Path) -> Path:
    """Return a checkpoint folder for MiniLM-L3, converting the ONNX file on first use."""
    if (target / "model.safetensors").exists():
        return target
    from transformers import BertConfig, BertModel

    config = json.loads((l6_folder / "config.json").read_text())
    config["num_hidden_layers"] = 3
    model = BertModel(BertConfig(**config), add_pooling_layer=False)
    # strict: every BERT tensor must come from the ONNX file, none left at random initialisation
    model.load_state_dict(onnx_state_dict(onnx_path), strict=True)

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".minilm_l3-", dir=target.parent))
    model.save_pretrained(staging, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (l6_folder / name).exists():
            shutil.copy(l6_folder / name, staging / name)
    try:  # atomic publish: concurrent jobs may convert at the same time; the first rename wins
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target
