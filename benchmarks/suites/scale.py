"""``scale``: DeepFM training throughput and peak memory at 1M, 5M and 20M synthetic rows, then
the out-of-core bar (50M Criteo-like Parquet rows through the streaming path; see
``benchmarks/suites/scale_stream.py``).

Per size, two processes: a generator writes a synthetic CTR TensorTable (8 Zipf-skewed
categorical fields, one multi-valued field; see ``benchmarks/synthetic.py``) as safetensors
into a temp dir, then a worker loads it with ``TensorTable.load``, builds recforge's DeepFM
and runs the Trainer for ``--max-steps`` shuffled steps. Keeping generation out of the
worker means the worker's peak RSS is training's: it is compared with the tensors' own size
(``TensorTable.nbytes``), both raw and above the process's baseline after imports and the
model (after one training step, so gradients and optimiser state are in it). The temp dir is deleted after each size.

    python -m benchmarks.suites.scale --generate DIR --rows N     (internal)
    python -m benchmarks.suites.scale --worker DIR --max-steps S  (internal)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Result, echo, run_runner
from benchmarks.suites import Options, SuiteOutput

SIZES = {"tiny": (20_000, 50_000, 100_000), "full": (1_000_000, 5_000_000, 20_000_000)}
TABLE_FILE = "table.safetensors"
BATCH = 4096
RATE_BAR, RSS_BAR = 0.10, 1.5


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(folder: Path, rows: int) -> None:
    """Write the synthetic table for ``rows`` rows into ``folder``."""
    from benchmarks.synthetic import SCALE_SHAPE, make_ctr

    data = make_ctr(rows, SCALE_SHAPE)
    data.table.save(folder / TABLE_FILE)
    print(json.dumps({"library": "generator", "model": "synthetic", "rows": rows}))


def worker(folder: Path, max_steps: int, batch: int) -> None:
    """Load the table, train DeepFM for ``max_steps`` steps, print one JSON result line."""
    import torch

    from benchmarks.synthetic import SCALE_SHAPE, SyntheticCTR, build_deepfm, ctr_fields
    from recforge.core.data.table import TensorTable
    from recforge.core.train import Trainer, TrainSettings

    torch.manual_seed(2024)
    fields = ctr_fields(SCALE_SHAPE)
    tiny = TensorTable({n: torch.full((2,), 2) for n in SCALE_SHAPE} | {"label": torch.zeros(2)},
                       {"tags": (torch.tensor([2, 2]), torch.tensor([0, 1, 2]))}, {"tags": 6})
    model = build_deepfm(SyntheticCTR(tiny, fields))
    # one step first, so gradients and Adam state (model memory, not data) are in the baseline
    Trainer(model, tiny, TrainSettings(batch_size=2, epochs=1, max_steps=1, patience=0, checkpoint=False),
            progress=False).fit()
    baseline = rss_mb()
    start = time.perf_counter()
    table = TensorTable.load(folder / TABLE_FILE)
    load_s = time.perf_counter() - start
    rates: list[float] = []
    settings = TrainSettings(batch_size=batch, epochs=1, max_steps=max_steps, patience=0, checkpoint=False)
    Trainer(model, table, settings, progress=False, event_every_s=float("inf"),
            on_event=lambda e: rates.append(e.samples_per_s) if e.kind == "step" and e.samples_per_s else None).fit()
    peak = rss_mb()
    tensor_mb = table.nbytes / 2**20
    print(json.dumps({
        "library": "recforge", "model": f"DeepFM-{table.num_rows // 1_000_000 or table.num_rows / 1e6}M-rows",
        "samples_per_s": round(rates[-1], 1) if rates else None, "auc": None,
        "wall_s": round(time.perf_counter() - start, 2), "peak_rss_mb": round(peak, 1),
        "rows": table.num_rows, "tensor_mb": round(tensor_mb, 1), "baseline_rss_mb": round(baseline, 1),
        "rss_over_tensors": round(peak / tensor_mb, 3),
        "rss_above_baseline_over_tensors": round((peak - baseline) / tensor_mb, 3),
        "load_s": round(load_s, 2), "steps": max_steps, "batch": batch,
    }))


def run(opts: Options) -> SuiteOutput:
    results: list[Result] = []
    steps = min(opts.max_steps, 5) if opts.size == "tiny" else opts.max_steps
    for rows in SIZES[opts.size]:
        folder = Path(tempfile.mkdtemp(prefix="recforge-scale-"))
        try:
            echo(f"scale {rows:,} rows: generating")
            gen = run_runner("scale", [sys.executable, "-m", "benchmarks.suites.scale", "--generate", str(folder),
                                       "--rows", str(rows)], library="generator", model="synthetic",
                             threads=opts.threads, timeout=7200)
            if gen.error:
                results.append(Result("scale", "recforge", f"DeepFM-{rows:,}-rows", error=f"generator: {gen.error}"))
                continue
            echo(f"scale {rows:,} rows: training {steps} steps")
            results.append(run_runner("scale", [sys.executable, "-m", "benchmarks.suites.scale", "--worker",
                                                str(folder), "--max-steps", str(steps)],
                                      library="recforge", model=f"DeepFM-{rows:,}-rows", threads=opts.threads,
                                      timeout=7200))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    method = (f"each size: {steps} shuffled DeepFM training steps of batch {BATCH} (recforge Trainer), "
              "tensors from TensorTable.load of a generated safetensors file; baseline = RSS after imports, "
              "model and one warm-up step")
    out = SuiteOutput(results, [table(results)], [method, *notes(results)])
    return with_streaming_bar(out, opts)


def with_streaming_bar(out: SuiteOutput, opts: Options) -> SuiteOutput:
    """The out-of-core bar (``benchmarks/suites/scale_stream.py``) added to the suite's output."""
    from benchmarks.suites import scale_stream

    work = Path(tempfile.mkdtemp(prefix="recforge-scale-stream-"))
    try:
        stream = scale_stream.run_bar(opts.size, work, opts.threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows, slice_rows, steps, memory_steps = scale_stream.SIZES[opts.size]
    method = (f"out-of-core: {rows:,} Criteo-like rows (13 numeric, 26 Zipf categorical fields) as Parquet; "
              f"FeatureMap fitted in one streaming pass; shards of {scale_stream.SHARD_ROWS:,} rows; DeepFM trained "
              f"{steps} steps of batch {BATCH} through the streaming path, against the in-memory path on the first "
              f"{slice_rows:,} rows ({memory_steps} steps, before and after); each phase its own process")
    return SuiteOutput(out.results + stream, out.tables + [scale_stream.table(stream)],
                       out.notes + [method, *scale_stream.notes(stream)])


def table(results: list[Result]) -> str:
    lines = ["| rows | samples/s | peak RSS MB | tensors MB | RSS / tensors | (RSS - baseline) / tensors |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.model} | {r.error} | | | | |")
            continue
        e = r.extra
        lines.append(f"| {e['rows']:,} | {r.samples_per_s:,.0f} | {r.peak_rss_mb:,.0f} | {e['tensor_mb']:,.0f} | "
                     f"{e['rss_over_tensors']:.2f} | {e['rss_above_baseline_over_tensors']:.2f} |")
    return "\n".join(lines)


def notes(results: list[Result]) -> list[str]:
    ok = [r for r in results if not r.error and r.samples_per_s]
    if len(ok) < 2:
        return []
    first, last = ok[0], ok[-1]
    drop = 1 - last.samples_per_s / first.samples_per_s  # type: ignore[operator]
    ratio = last.extra["rss_above_baseline_over_tensors"]
    rate_note = (f"samples/s at {last.extra['rows']:,} rows is {abs(drop):.1%} {'below' if drop > 0 else 'above'} "
                 f"that at {first.extra['rows']:,} "
                 f"(bar <= {RATE_BAR:.0%}) -> {'met' if drop <= RATE_BAR else 'NOT met'}")
    rss_note = (f"peak RSS above the post-import baseline at {last.extra['rows']:,} rows: {ratio:.2f}x the tensors "
                f"(bar <= {RSS_BAR}x) -> {'met' if ratio <= RSS_BAR else 'NOT met'}")
    return [rate_note, rss_note]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="scale suite helper processes")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--generate", type=Path)
    group.add_argument("--worker", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.generate:
        generate(args.generate, args.rows)
    else:
        worker(args.worker, args.max_steps, args.batch)


if __name__ == "__main__":
    main()
