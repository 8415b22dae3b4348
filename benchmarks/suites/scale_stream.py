"""The ``scale`` suite's out-of-core bar: a Criteo-like Parquet set through the streaming path.

Phases, each its own process so that each peak RSS is that phase's alone:

1. ``generate``: raw Criteo-like Parquet files (13 numeric, 26 Zipf categorical fields;
   ``benchmarks/synthetic.py``), one file of rows in memory at a time.
2. ``fit``: the FeatureMap fitted in one streaming pass over every row (bar: peak RSS <= 2 GB).
3. ``write``: every row indexed and written as Parquet shards (figures reported, no bar).
4. ``memory``: DeepFM trained by the in-memory path (a TensorTable) on the first ``slice``
   rows of the prepared shards -- the reference rate.
5. ``stream``: DeepFM trained through the streaming path (ShardedTable: row groups of all
   shards in a random order, bounded shuffle buffer) for ``steps`` steps (bar: peak RSS
   <= 4 GB and samples/s >= 80% of the in-memory rate).

The in-memory reference runs before and after the streaming run and their mean is the
reference, so a change of machine load during the run does not favour either side.

    python -m benchmarks.suites.scale_stream --bar WORK --rows 50000000 [--raw DIR]  (the whole bar)
    python -m benchmarks.suites.scale_stream --phase fit --raw DIR --prep DIR        (internal)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.harness import Result, echo, run_runner

#: rows per size: (whole set, in-memory slice, streamed steps, in-memory steps per run)
SIZES = {"tiny": (200_000, 100_000, 20, 10), "mid": (2_000_000, 1_000_000, 80, 80),
         "full": (50_000_000, 10_000_000, 2_000, 300)}
BATCH = 4096
STREAM_RSS_BAR_MB, FIT_RSS_BAR_MB, RATE_BAR = 4096, 2048, 0.80
SHARD_ROWS = 1_000_000
SHUFFLE_BUFFER = 1 << 18


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(**figures: Any) -> None:
    print(json.dumps({"peak_rss_mb": round(peak_rss_mb(), 1), **figures}))


# --------------------------------------------------------------------------- phases
def phase_generate(raw: Path, rows: int) -> None:
    from benchmarks.synthetic import write_criteo_like

    start = time.perf_counter()
    files = write_criteo_like(raw, rows)
    _emit(library="generator", model="criteo-like", rows=rows, files=len(files), wall_s=round(time.perf_counter() - start, 1))


def phase_fit(raw: Path, prep: Path) -> None:
    from benchmarks.synthetic import criteo_specs
    from recforge.core.data.streaming_prepare import fit_parquet

    start = time.perf_counter()
    fm = fit_parquet(sorted(raw.glob("*.parquet")), criteo_specs())
    prep.mkdir(parents=True, exist_ok=True)
    fm.save(prep / "featuremap.json")
    sizes = {k: len(v) for k, v in fm.vocabs.items()}
    _emit(library="recforge", model="featuremap-fit", wall_s=round(time.perf_counter() - start, 1),
          vocab_over_1m=sorted(k for k, v in sizes.items() if v > 1_000_000), largest_vocab=max(sizes.values()),
          vocab_rows=sum(sizes.values()))


def phase_write(raw: Path, prep: Path) -> None:
    from benchmarks.synthetic import criteo_specs
    from recforge.core.data.featuremap import FeatureMap
    from recforge.core.data.streaming_prepare import parquet_chunks, spec_columns, write_split

    start = time.perf_counter()
    fm = FeatureMap.load(prep / "featuremap.json")
    manifest = write_split(fm, parquet_chunks(sorted(raw.glob("*.parquet")), spec_columns(criteo_specs())),
                           prep / "train", SHARD_ROWS)
    size = sum(f.stat().st_size for f in (prep / "train").glob("*.parquet"))
    _emit(library="recforge", model="shard-write", wall_s=round(time.perf_counter() - start, 1),
          rows=manifest.num_rows, shards=len(manifest.files), shard_gb=round(size / 2**30, 2))


def _model(prep: Path, table: Any) -> Any:
    from benchmarks.synthetic import deepfm_config
    from recforge.core.data.featuremap import FeatureMap
    from recforge.core.model import build_model

    fm = FeatureMap.load(prep / "featuremap.json")
    prepared = SimpleNamespace(fields=fm.fields, label="label", splits={"train": table}, user_field=None,
                               item_field=None, items=None, restored=False)
    features = [n for n, f in fm.fields.items() if f.kind != "label"]
    return build_model(deepfm_config(features), prepared)


def _train(model: Any, table: Any, steps: int) -> float:
    """Train ``steps`` steps; returns the samples/s over all of them (the trainer's own rate)."""
    from recforge.core.train import Trainer, TrainSettings

    rates: list[float] = []
    settings = TrainSettings(batch_size=BATCH, epochs=1, max_steps=steps, patience=0, checkpoint=False, seed=2024)
    Trainer(model, table, settings, progress=False, event_every_s=float("inf"),
            on_event=lambda e: rates.append(e.samples_per_s) if e.kind == "step" and e.samples_per_s else None).fit()
    return rates[-1]


def phase_memory(prep: Path, rows: int, steps: int) -> None:
    import torch

    from recforge.core.data.streaming_table import ShardedTable
    from recforge.core.data.table import TensorTable

    torch.manual_seed(2024)
    start = time.perf_counter()
    view = ShardedTable(prep / "train").slice(0, rows)
    table = TensorTable({name: view.read_column(name) for name in view.manifest.dense})
    load_s = time.perf_counter() - start
    model = _model(prep, table)
    rate = _train(model, table, steps)
    _emit(library="recforge", model=f"DeepFM-in-memory-{rows:,}-rows", samples_per_s=round(rate, 1), rows=rows,
          steps=steps, batch=BATCH, load_s=round(load_s, 1), tensor_mb=round(table.nbytes / 2**20, 1))


def phase_stream(prep: Path, steps: int, workers: int) -> None:
    import torch

    from recforge.core.data.streaming_loader import unit_order
    from recforge.core.data.streaming_table import ShardedTable, StreamSettings, epoch_seed

    torch.manual_seed(2024)
    table = ShardedTable(prep / "train", StreamSettings(SHUFFLE_BUFFER, workers))
    model = _model(prep, table)
    rate = _train(model, table, steps)
    # which shard files the steps drew from: the epoch's unit order, as the trainer's generator made it
    order = unit_order(table.units(), epoch_seed(torch.Generator().manual_seed(2024 + 1)))
    drawn, rows = set(), 0
    for unit in order:
        if rows >= steps * BATCH:
            break
        drawn.add(unit.shard)
        rows += unit.rows
    _emit(library="recforge", model=f"DeepFM-streaming-{table.num_rows:,}-rows", samples_per_s=round(rate, 1),
          rows=table.num_rows, steps=steps, batch=BATCH, shards=len(table.manifest.files), shards_drawn=len(drawn),
          shuffle_buffer=SHUFFLE_BUFFER, workers=workers)


# --------------------------------------------------------------------------- the bar
def _phase(name: str, args: list[str], threads: int, label: str) -> Result:
    echo(f"scale/streaming: {name} {' '.join(args)}")
    cmd = [sys.executable, "-m", "benchmarks.suites.scale_stream", "--phase", name, *args]
    return run_runner("scale", cmd, library="recforge", model=label, threads=threads, timeout=4 * 3600)


def run_bar(size: str, work: Path, threads: int, raw: Path | None = None, workers: int = 0) -> list[Result]:
    """Every phase in order; a generated raw set (not a given one) is deleted afterwards."""
    rows, slice_rows, steps, memory_steps = SIZES[size]
    own_raw = raw is None
    raw = raw or work / "raw"
    prep = work / "prepared"
    results: list[Result] = []
    try:
        if own_raw:
            results.append(_phase("generate", ["--raw", str(raw), "--rows", str(rows)], threads, "generate"))
        common = ["--raw", str(raw), "--prep", str(prep)]
        for name in ("fit", "write"):
            results.append(_phase(name, common, threads, name))
            if results[-1].error:
                return results
        memory = ["--prep", str(prep), "--rows", str(slice_rows), "--steps", str(memory_steps)]
        results.append(_phase("memory", memory, threads, "memory"))
        stream = ["--prep", str(prep), "--steps", str(steps), "--workers", str(workers)]
        results.append(_phase("stream", stream, threads, "stream"))
        results.append(_phase("memory", memory, threads, "memory"))
    finally:
        shutil.rmtree(prep, ignore_errors=True)
        if own_raw:
            shutil.rmtree(raw, ignore_errors=True)
    return results


def table(results: list[Result]) -> str:
    lines = ["| phase | rows | samples/s | peak RSS MB | wall s | notes |", "|---|---:|---:|---:|---:|---|"]
    for r in results:
        if r.error:
            lines.append(f"| {r.model} | | | | | error: {r.error} |")
            continue
        e = r.extra
        note = ", ".join(f"{k} {v}" for k, v in e.items() if k in (
            "vocab_over_1m", "largest_vocab", "shards", "shards_drawn", "shard_gb", "steps", "load_s", "tensor_mb"))
        rate = f"{r.samples_per_s:,.0f}" if r.samples_per_s else ""
        wall = f"{r.wall_s:,.0f}" if r.wall_s else ""
        rows = f"{e['rows']:,}" if isinstance(e.get("rows"), int) else ""
        lines.append(f"| {r.model} | {rows} | {rate} | "
                     f"{r.peak_rss_mb:,.0f} | {wall} | {note} |")
    return "\n".join(lines)


def notes(results: list[Result]) -> list[str]:
    """The bar's verdicts, each with its figures."""
    by = {r.model: r for r in results if not r.error}
    out = []
    fit = next((r for r in results if r.model == "featuremap-fit" and not r.error), None)
    if fit is not None:
        ok = fit.peak_rss_mb is not None and fit.peak_rss_mb <= FIT_RSS_BAR_MB
        out.append(f"streaming FeatureMap fit: peak RSS {fit.peak_rss_mb:,.0f} MB (bar <= {FIT_RSS_BAR_MB} MB) -> "
                   f"{'met' if ok else 'NOT met'}; vocabularies over 1M: {', '.join(fit.extra['vocab_over_1m']) or 'none'}")
    stream = next((r for m, r in by.items() if m.startswith("DeepFM-streaming")), None)
    memory = [r for r in results if not r.error and r.model.startswith("DeepFM-in-memory")]
    if stream is not None:
        ok = stream.peak_rss_mb is not None and stream.peak_rss_mb <= STREAM_RSS_BAR_MB
        out.append(f"streaming DeepFM ({stream.extra['steps']} steps of {BATCH}, {stream.extra['shards_drawn']} of "
                   f"{stream.extra['shards']} shards drawn): peak RSS {stream.peak_rss_mb:,.0f} MB "
                   f"(bar <= {STREAM_RSS_BAR_MB} MB) -> {'met' if ok else 'NOT met'}")
    if stream is not None and memory and stream.samples_per_s:
        ref = sum(r.samples_per_s or 0.0 for r in memory) / len(memory)
        ratio = stream.samples_per_s / ref
        runs = " and ".join(f"{r.samples_per_s:,.0f}" for r in memory)
        out.append(f"streaming {stream.samples_per_s:,.0f} samples/s = {ratio:.1%} of the in-memory path's "
                   f"{ref:,.0f} (mean of {runs}, {memory[0].extra['rows']:,}-row slice) (bar >= {RATE_BAR:.0%}) -> "
                   f"{'met' if ratio >= RATE_BAR else 'NOT met'}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="scale suite: the out-of-core bar")
    parser.add_argument("--phase", choices=("generate", "fit", "write", "memory", "stream"))
    parser.add_argument("--bar", type=Path, help="run every phase in this work folder")
    parser.add_argument("--size", choices=tuple(SIZES), default="full")
    parser.add_argument("--raw", type=Path)
    parser.add_argument("--prep", type=Path)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.bar:
        args.bar.mkdir(parents=True, exist_ok=True)
        results = run_bar(args.size, args.bar, args.threads, args.raw, args.workers)
        print(table(results))
        print("\n".join(notes(results)))
        (args.bar / "results.json").write_text(json.dumps([r.to_dict() for r in results], indent=2))
    elif args.phase == "generate":
        phase_generate(args.raw, args.rows)
    elif args.phase == "fit":
        phase_fit(args.raw, args.prep)
    elif args.phase == "write":
        phase_write(args.raw, args.prep)
    elif args.phase == "memory":
        phase_memory(args.prep, args.rows, args.steps)
    elif args.phase == "stream":
        phase_stream(args.prep, args.steps, args.workers)
    else:
        parser.error("give --bar or --phase")


if __name__ == "__main__":
    main()
