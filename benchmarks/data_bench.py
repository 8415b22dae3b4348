"""Data-layer benchmark: load + fit + tensorise time and peak memory.

Run: ``python -m benchmarks.data_bench [--rows 10000000]``. Cases: MovieLens-100k (from
RECFORGE_DATA_DIR) and a synthetic CSV (user, item, label, price, genres) generated into a
temporary folder and deleted afterwards. Each case runs in its own process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _synthetic(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    genres = np.array(["Action", "Comedy", "Drama", "Action|Comedy", "Drama|Romance", "Sci-Fi|Action|Thriller"])
    with open(path, "w") as out:
        out.write("user_id,item_id,label,price,genres\n")
        chunk = 1_000_000
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols = [rng.integers(0, 100_000, n).astype(str), rng.integers(0, 20_000, n).astype(str), rng.integers(0, 2, n).astype(str), np.round(rng.gamma(2.0, 10.0, n), 2).astype(str), genres[rng.integers(0, len(genres), n)]]
            out.write("\n".join(",".join(r) for r in zip(*cols)) + "\n")


def _case(name: str, rows: int, queue: mp.Queue) -> None:
    import torch

    torch.set_num_threads(1)
    from recforge.core.data.featuremap import FeatureMap
    from recforge.core.data.schema import FieldSpec

    base = _rss()
    t0 = time.perf_counter()
    if name == "ml-100k":
        from recforge.plugins.datasets.movielens_100k import ML100K_FIELDS, MovieLens100K

        recipe = MovieLens100K()
        raw = recipe.load(recipe.Params())
        frame, specs, tmp = raw.frames["all"], ML100K_FIELDS, None
    else:
        from recforge.core.data.readers import read_table

        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "synthetic.csv"
        _synthetic(path, rows)
        base = _rss()
        t0 = time.perf_counter()
        frame = read_table(path)
        specs = [FieldSpec("label", "label"), FieldSpec("user_id", "categorical", role="user"), FieldSpec("item_id", "categorical", role="item"), FieldSpec("price", "numeric"), FieldSpec("genres", "multi_categorical", role="item", sep="|")]
    t1 = time.perf_counter()
    fm, table = FeatureMap.fit_transform(frame, specs)
    t2 = time.perf_counter()
    for batch in table.iter_batches(4096, shuffle=True, generator=torch.Generator().manual_seed(0)):
        pass
    t3 = time.perf_counter()
    n = len(frame)
    del frame, batch
    if name != "ml-100k":
        tmp.cleanup()
    else:
        del raw
    gc.collect()
    after = _rss()
    queue.put({
        "case": name, "rows": n, "load_s": t1 - t0, "fit_tensorise_s": t2 - t1, "epoch_batches_s": t3 - t2,
        "table_mb": table.nbytes / 2**20, "rss_growth_mb": (after - base) / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the synthetic CSV")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    results = []
    for name in ("ml-100k", f"synthetic-{args.rows}"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_case, args=(name, args.rows, queue))
        proc.start()
        results.append(queue.get())
        proc.join()
    from rich.console import Console
    from rich.table import Table

    table = Table(title="recforge data layer")
    cols = ["case", "rows", "load_s", "fit_tensorise_s", "epoch_batches_s", "table_mb", "rss_growth_mb", "peak_rss_mb"]
    for col in cols:
        table.add_column(col)
    for r in results:
        table.add_row(*[f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
