"""Data-layer benchmark: load + fit + tensorise time, batch throughput and peak memory.

Run: ``python -m benchmarks.data_bench [--rows 10000000] [--scale 1000000,5000000,20000000]``.

Cases:

* ``ml-100k``: the MovieLens-100k recipe (from RECFORGE_DATA_DIR).
* ``synthetic-N``: a CSV (user, item, label, price, genres) of ``--rows`` rows.
* ``ctr-N`` for each ``--scale`` size: the ``scale`` suite's shape as a CSV: 8 categorical
  fields with Zipf-skewed integer ids (``benchmarks.synthetic.SCALE_SHAPE``), a label, and a
  multi-valued ``tags`` field (1-6 of 18 tags joined by ``|``, so most rows' strings are
  distinct). It measures what the training side of ``scale`` skips: the CSV -> tensors path.

CSVs are written by a separate process into a temporary folder (deleted afterwards) and each
case is measured in its own fresh process, so peak RSS is that case's own. ``peak/tensors``
is (peak RSS - RSS before loading) over the tensors' own bytes (``TensorTable.nbytes``);
``held/tensors`` the same after the raw frame is dropped.
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
from typing import Any

import numpy as np

BATCH = 4096
TAGS = 18


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _write_synthetic(path: Path, rows: int) -> None:
    """The original 5-column synthetic CSV (kept identical so figures compare across versions)."""
    rng = np.random.default_rng(0)
    genres = np.array(["Action", "Comedy", "Drama", "Action|Comedy", "Drama|Romance", "Sci-Fi|Action|Thriller"])
    with open(path, "w") as out:
        out.write("user_id,item_id,label,price,genres\n")
        chunk = 1_000_000
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols = [rng.integers(0, 100_000, n).astype(str), rng.integers(0, 20_000, n).astype(str), rng.integers(0, 2, n).astype(str), np.round(rng.gamma(2.0, 10.0, n), 2).astype(str), genres[rng.integers(0, len(genres), n)]]
            out.write("\n".join(",".join(r) for r in zip(*cols)) + "\n")


def _write_ctr(path: Path, rows: int) -> None:
    """The scale shape as CSV, written by Arrow in 1M-row chunks (no per-row Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pv

    from benchmarks.synthetic import SCALE_SHAPE, zipf_ids

    rng = np.random.default_rng(2024)
    names = pa.array([f"t{i}" for i in range(TAGS)])
    writer = None
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        cols: dict[str, Any] = {name: zipf_ids(rng, n, vocab) for name, vocab in SCALE_SHAPE.items()}
        cols["label"] = (rng.random(n) < 0.25).astype(np.int8)
        lengths = rng.integers(1, 7, n)
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        tokens = pc.take(names, pa.array(rng.integers(0, TAGS, int(offsets[-1]))))
        cols["tags"] = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), tokens), "|")
        table = pa.table(cols)
        if writer is None:
            writer = pv.CSVWriter(str(path), table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def _specs(name: str) -> list[Any]:
    from recforge.core.data.schema import FieldSpec

    if name.startswith("synthetic"):
        return [FieldSpec("label", "label"), FieldSpec("user_id", "categorical", role="user"), FieldSpec("item_id", "categorical", role="item"), FieldSpec("price", "numeric"), FieldSpec("genres", "multi_categorical", role="item", sep="|")]
    from benchmarks.synthetic import SCALE_SHAPE

    return [FieldSpec("label", "label"), *[FieldSpec(c, "categorical") for c in SCALE_SHAPE], FieldSpec("tags", "multi_categorical", sep="|", max_len=6)]


def _case(name: str, path: str | None, queue: mp.Queue) -> None:
    import torch

    torch.set_num_threads(1)
    from recforge.core.data.featuremap import FeatureMap

    base = _rss()
    t0 = time.perf_counter()
    if name == "ml-100k":
        from recforge.plugins.datasets.movielens_100k import ML100K_FIELDS, MovieLens100K

        recipe = MovieLens100K()
        frame, specs = recipe.load(recipe.Params()).frames["all"], ML100K_FIELDS
    else:
        from recforge.core.data.readers import read_table

        frame, specs = read_table(path), _specs(name)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    _, table = FeatureMap.fit_transform(frame, specs)
    t2 = time.perf_counter()
    peak_build = _peak()
    n = len(frame)
    del frame
    gc.collect()
    held = _rss()
    t3 = time.perf_counter()
    batches = 0
    for _batch in table.iter_batches(BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)):
        batches += 1
    t4 = time.perf_counter()
    nbytes = table.nbytes
    queue.put({
        "case": name, "rows": n, "load_s": t1 - t0, "fit_tensorise_s": t2 - t1, "epoch_batches_s": t4 - t3,
        "batches_per_s": batches / (t4 - t3), "rows_per_s_M": n / (t4 - t3) / 1e6,
        "table_mb": nbytes / 2**20, "peak_rss_mb": _peak() / 2**20,
        "peak/tensors": (peak_build - base) / nbytes, "held/tensors": (held - base) / nbytes,
    })


def _in_process(target: Any, *args: Any) -> Any:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    proc.join()  # results are small: the child's put never blocks its exit
    if proc.exitcode != 0 or queue.empty():
        raise SystemExit(f"data_bench: {getattr(target, '__name__', target)}{args} failed with exit code {proc.exitcode} (its traceback is above)")
    return queue.get()


def _generate(kind: str, path: str, rows: int, queue: mp.Queue) -> None:
    (_write_ctr if kind == "ctr" else _write_synthetic)(Path(path), rows)
    queue.put(path)


def run_cases(rows: int, scale: list[int], skip_ml100k: bool = False) -> list[dict[str, Any]]:
    """Every case, each in a fresh process; CSVs generated by yet another process."""
    results = [] if skip_ml100k else [_in_process(_case, "ml-100k", None)]
    planned = ([("synthetic", rows)] if rows else []) + [("ctr", n) for n in scale]
    for kind, n in planned:
        with tempfile.TemporaryDirectory() as tmp:
            path = _in_process(_generate, kind, str(Path(tmp) / f"{kind}.csv"), n)
            results.append(_in_process(_case, f"{kind}-{n}", path))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the synthetic CSV (0 = skip)")
    parser.add_argument("--scale", default="1000000,5000000,20000000", help="comma list of ctr CSV sizes ('' = skip)")
    parser.add_argument("--skip-ml100k", action="store_true")
    args = parser.parse_args()
    scale = [int(x) for x in args.scale.split(",") if x.strip()]
    results = run_cases(args.rows, scale, args.skip_ml100k)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="recforge data layer (load + fit + tensorise; one shuffled epoch of 4096-row batches)")
    cols = ["case", "rows", "load_s", "fit_tensorise_s", "epoch_batches_s", "batches_per_s", "rows_per_s_M", "table_mb", "peak_rss_mb", "peak/tensors", "held/tensors"]
    for col in cols:
        table.add_column(col)
    for r in results:
        table.add_row(*[f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    Console(width=180).print(table)


if __name__ == "__main__":
    main()
