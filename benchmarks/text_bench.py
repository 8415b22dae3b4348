"""Text encoding speed: recforge's ``text-lm`` encoding vs sentence-transformers ``encode()``.

Same texts (ml-100k titles, ml-latest-small titles), same model (offline all-MiniLM-L6-v2),
same thread count (2); runs alternate sentence-transformers / recforge fp32 / recforge fast
mode per round and the best round of each is reported. A last pair of recforge runs through
the persistent text cache shows the second one makes zero model calls.

    python -m benchmarks.text_bench [--rounds 2] [--fast bf16] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch


def load_titles(data_dir: Path) -> dict[str, list[str]]:
    """The two title lists: ml-100k ``u.item`` (latin-1, '|', column 2) and ``movies.csv``."""
    with open(data_dir / "ml-100k" / "u.item", encoding="latin-1") as f:
        ml100k = [line.split("|")[1] for line in f if line.strip()]
    with open(data_dir / "ml-latest-small" / "movies.csv", encoding="utf-8") as f:
        latest = [row["title"] for row in csv.DictReader(f)]
    return {"ml-100k": ml100k, "ml-latest-small": latest}


def timed(fn, texts: list[str]) -> float:
    start = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fast", default="bf16", choices=["bf16", "int8"])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N texts")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["RECFORGE_HOME"] = tempfile.mkdtemp(prefix="text-bench-")  # a cold cache

    from sentence_transformers import SentenceTransformer

    from recforge.core import paths
    from recforge.core.textcache import TextCache, TextVectorConfig
    from recforge.plugins.encoders.lm_backend import LMBackend, default_model, resolve_model

    st = SentenceTransformer(default_model(), device="cpu")
    fp32 = LMBackend("", "mean", 256, "fp32")
    fast = LMBackend("", "mean", 256, args.fast)
    runners = {
        "sentence-transformers": lambda t: st.encode(t, convert_to_tensor=True),
        "recforge fp32": fp32.encode,
        f"recforge {args.fast}": fast.encode,
    }
    for run in runners.values():  # warm-up
        run(["warm up the kernels"] * 64)

    print(f"threads={torch.get_num_threads()} model={default_model()} "
          f"load average={os.getloadavg()[0]:.1f} (figures are only comparable side by side)")
    print(f"{'dataset':<16} {'texts':>6} {'distinct':>8} {'runner':<24} {'texts/s':>9} {'x ST':>6}")
    for name, texts in load_titles(paths.data_dir() if os.environ.get("RECFORGE_DATA_DIR") else
                                   Path(__file__).resolve().parents[2] / "shared" / "datasets").items():
        texts = texts[: args.limit] if args.limit else texts
        best = {k: 0.0 for k in runners}
        for _ in range(args.rounds):
            for label, run in runners.items():
                best[label] = max(best[label], timed(run, texts))
        for label, rate in best.items():
            ratio = rate / best["sentence-transformers"]
            print(f"{name:<16} {len(texts):>6} {len(set(texts)):>8} {label:<24} {rate:>9.1f} {ratio:>6.2f}")
        st_vecs = st.encode(texts[:200], convert_to_tensor=True)
        for label, lm in (("fp32", fp32), (args.fast, fast)):
            cos = torch.nn.functional.cosine_similarity(lm.encode(texts[:200]), st_vecs.cpu())
            print(f"{name:<16} cosine to sentence-transformers ({label}): min {cos.min():.4f} mean {cos.mean():.4f}")

        model_id, revision = resolve_model("")
        config = TextVectorConfig(model_id, revision, "mean", 256, "|{text}", "fp32")
        for attempt in ("first", "second"):
            before = fp32.calls
            start = time.perf_counter()
            TextCache().get_or_compute(config, texts, fp32.encode)
            rate = len(texts) / (time.perf_counter() - start)
            print(f"{name:<16} cached run ({attempt}): {fp32.calls - before} model calls, {rate:,.0f} texts/s")
    print(f"load average at the end={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
