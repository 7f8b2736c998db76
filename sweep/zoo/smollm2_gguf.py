"""Convert a GGUF decoder (SmolLM2-135M-Instruct, packaged 4-bit) once into a plain Hugging Face folder.

transformers reads GGUF itself (``from_pretrained(dir, gguf_file=F)``, de-quantized to float32, ~15 s),
but the model it returns is marked as quantized and refuses ``save_pretrained``. So the config is copied
without its ``quantization_config`` into a plain model of the same class, the de-quantized state dict is
loaded into it strictly (nothing left at random initialisation), and the folder is written once as
safetensors with the tokenizer (also read from the GGUF). Later loads take well under a second.

Publishing is atomic (a staging folder renamed into place; concurrent jobs may convert at the same
time, the first rename wins) and a folder counts as converted only when its marker file, written last,
is there: a half-written folder is never used. A file that cannot be converted (missing, truncated,
an architecture transformers cannot read) is a ConfigError naming ``model.source``, raised before any
run opens.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from sweep.config.errors import ConfigError

MARKER = "sweep_gguf_source.json"  # written last: its presence means the folder is complete


def is_converted(target: Path) -> bool:
    return (target / MARKER).is_file() and (target / "model.safetensors").is_file()


def gguf_architecture(gguf_path: Path, key: str, source: str) -> str:
    """The file's ``general.architecture``, after checking that the whole file reads as GGUF."""
    if not gguf_path.is_file():
        raise ConfigError(key, f"GGUF file not found: {gguf_path}", source)
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ConfigError(key, "converting a GGUF file needs the gguf package; run: pip install gguf accelerate", source) from None
    try:  # the reader maps every tensor: a truncated file fails here (ValueError, IndexError, ...)
        reader = GGUFReader(str(gguf_path))
        field = reader.fields["general.architecture"]
        architecture = bytes(field.parts[field.data[0]]).decode()
    except Exception as e:  # whatever the damage, the user's answer is the same: this file is unusable
        raise ConfigError(key, f"not a readable GGUF file ({gguf_path}): {type(e).__name__}: {_first_line(e)}", source) from None
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        known = ", ".join(sorted(GGUF_SUPPORTED_ARCHITECTURES))
        raise ConfigError(key, f"GGUF architecture {architecture!r} cannot be converted; transformers reads: {known}", source)
    return architecture


def convert_gguf(gguf_path: Path, target: Path, key: str = "model.source", source: str | None = None) -> Path:
    """Return a checkpoint folder for the GGUF decoder at ``gguf_path``, converting it on first use."""
    if is_converted(target):
        return target
    source = source if source is not None else str(gguf_path)
    architecture = gguf_architecture(gguf_path, key, source)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    except Exception as e:  # a GGUF transformers maps but cannot load (missing tensors, odd shapes)
        message = f"transformers cannot load the GGUF file {gguf_path}: {type(e).__name__}: {_first_line(e)}"
        raise ConfigError(key, message, source) from None
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    config.pop("_name_or_path", None)
    plain_config = AutoConfig.for_model(**config)
    with torch.device("meta"):  # no random initialisation of 135M parameters only to overwrite them
        plain = AutoModelForCausalLM.from_config(plain_config, dtype=torch.float32)
    # strict: every tensor comes from the GGUF file, none left on the meta device
    plain.load_state_dict(quantized.state_dict(), strict=True, assign=True)
    plain.tie_weights()
    del quantized

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        plain.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        stat = gguf_path.stat()
        marker = {"gguf_file": str(gguf_path), "size": stat.st_size, "architecture": architecture}
        (staging / MARKER).write_text(json.dumps(marker, indent=2))
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the rename won
    return target


def _publish(staging: Path, target: Path) -> None:
    if target.exists() and not is_converted(target):  # left by a crash outside this protocol: never used
        shutil.rmtree(target, ignore_errors=True)
    try:  # atomic: concurrent jobs may convert at the same time; the first rename wins
        os.rename(staging, target)
    except OSError:
        if not is_converted(target):
            raise


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"
