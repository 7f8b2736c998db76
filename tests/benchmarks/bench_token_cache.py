"""Benchmark: time and peak memory of the token cache, cold (tokenize and store) against a hit (load).

    python tests/benchmarks/bench_token_cache.py [--synthetic-rows 100000] [--max-length 128]

Two data sets: the whole packaged Rotten Tomatoes corpus, and N synthetic rows made of its own words
(longer than the corpus' snippets, like a user's reviews). Each measurement runs in a fresh process,
as a job of a sweep would: the cold one tokenizes and writes the cache, the next one reads it, and both
then touch every row once, as an epoch does. Peak RSS is the process' high-water mark (VmHWM) above
what it held before the step, reset right before it; it is the figure that decides whether the second
job of a sweep fits in memory. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

STEP = r"""
import json, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, {root!r})
from transformers import AutoTokenizer
from sweep.data.loaders import TokenDataset
from sweep.data.tokens import tokenize, tokenizer_fingerprint
from sweep.zoo.assets import MINILM_L6

texts = Path({texts!r}).read_text().split("\n")
labels = np.arange(len(texts)) % 2
tokenizer = AutoTokenizer.from_pretrained(MINILM_L6.locate("model.source"))
fingerprint = tokenizer_fingerprint(tokenizer)

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

before = rss("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # resets VmHWM: the peak from here on
start = time.perf_counter()
split, hit = tokenize(texts, labels, tokenizer, {max_length}, Path({cache!r}), fingerprint)
loaded = time.perf_counter() - start
dataset = TokenDataset(split)
tokens = sum(len(dataset[i][0]) for i in range(len(dataset)))  # every row once, as an epoch does
total = time.perf_counter() - start
print(json.dumps({{"hit": bool(hit), "load_s": loaded, "total_s": total, "peak_mb": (rss("VmHWM:") - before) / 2**20,
                  "rss_after_mb": (rss("VmRSS:") - before) / 2**20, "tokens": tokens}}))
"""


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def corpus_texts() -> list[str]:
    import pandas as pd

    from sweep.zoo.assets import ROTTEN_TOMATOES_CSV

    frame = pd.read_csv(ROTTEN_TOMATOES_CSV.locate("bench"))
    return [" ".join(str(text).split()) for text in frame["text"].dropna()]


def synthetic_texts(corpus: list[str], rows: int, seed: int = 0) -> list[str]:
    """Rows of 10 to 120 words drawn from the corpus' own words: real vocabulary, longer rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = np.array(" ".join(corpus).split())
    lengths = rng.integers(10, 120, size=rows)
    return [" ".join(words[rng.integers(0, len(words), size=n)]) for n in lengths]


def measure(texts_file: Path, cache: Path, max_length: int) -> dict:
    code = STEP.format(root=str(Path(__file__).resolve().parents[2]), texts=str(texts_file), cache=str(cache), max_length=max_length)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic-rows", type=int, default=100_000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--corpus-rows", type=int, default=None, help="only the first N rows of the corpus (default: all)")
    args = parser.parse_args()

    corpus = corpus_texts()
    shown = corpus[: args.corpus_rows] if args.corpus_rows else corpus
    data = {
        f"Rotten Tomatoes corpus ({len(shown):,} rows)": shown,
        f"synthetic ({args.synthetic_rows:,} rows)": synthetic_texts(corpus, args.synthetic_rows),
    }
    print(f"CPU: {cpu_name()}; max_length {args.max_length}")
    print("| data | step | seconds (load / with one pass over rows) | peak RSS above start, MB | held after, MB |")
    print("|---|---|---|---|---|")
    for name, texts in data.items():
        with tempfile.TemporaryDirectory(prefix="sweep-bench-tokens-") as folder:
            texts_file = Path(folder) / "texts.txt"
            texts_file.write_text("\n".join(t.replace("\n", " ") for t in texts))
            cache = Path(folder) / "cache"
            for step in ("cold (first job)", "cache hit (second job)", "cache hit (third job)"):
                result = measure(texts_file, cache, args.max_length)
                assert result["hit"] == (step != "cold (first job)"), result
                print(
                    f"| {name} | {step} | {result['load_s']:.2f} / {result['total_s']:.2f} | {result['peak_mb']:.0f} | "
                    f"{result['rss_after_mb']:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
