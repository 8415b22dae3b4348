"""The benchmark harness: result records, runner subprocesses, A B A B rounds, ratios.

Every measurement is a :class:`Result`. Runners (recforge's and the peers') are separate
processes that print one JSON object as their last stdout line, so peak RSS is per run and a
crashing peer costs one row, not the whole suite. Several rounds are run alternating the
libraries (A B C A B C ...) so that background load on a shared machine hits all of them
alike; :func:`combine_rounds` then keeps each figure's best round (highest rate, lowest wall
time), which is the least disturbed one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from recforge.core.errors import RecforgeError

#: Keys every JSON result object carries (``null`` where a key does not apply).
RESULT_KEYS = ("suite", "library", "model", "samples_per_s", "auc", "wall_s", "peak_rss_mb")
#: The library whose figures are divided by the best peer's in ratio columns.
BASELINE = "recforge"


class BenchmarkError(RecforgeError):
    """A benchmark runner failed or printed something that is not a result."""


@dataclass
class Result:
    """One measurement: a library running one model (or one workload) in one suite.

    Args:
        suite: suite name (``train``, ``limit`` ...).
        library: ``recforge``, a peer's name, or ``machine`` for hardware references.
        model: model or workload name.
        samples_per_s: training-loop (or workload) rows per second.
        auc: test AUC where a model is evaluated.
        wall_s: end-to-end seconds of the whole run.
        peak_rss_mb: the process's peak resident set size.
        extra: suite-specific figures (latencies, GFLOP/s, epochs ...).
        error: why the run produced no figures (e.g. "library has no such model").

    Example:
        Result("train", "fuxictr", "DeepFM", samples_per_s=38071.0, auc=0.7893)
    """

    suite: str
    library: str
    model: str
    samples_per_s: float | None = None
    auc: float | None = None
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON object: the documented keys first, then ``extra``, then ``error``."""
        out: dict[str, Any] = {key: getattr(self, key) for key in RESULT_KEYS}
        out.update({k: v for k, v in self.extra.items() if k not in out})
        out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, suite: str, data: dict[str, Any]) -> Result:
        """Build from a runner's JSON object; unknown keys go to ``extra``."""
        known = {"library", "model", "samples_per_s", "auc", "wall_s", "peak_rss_mb", "error"}
        if "library" not in data or "model" not in data:
            raise BenchmarkError(f"runner result {json.dumps(data)[:200]} lacks 'library' or 'model'",
                                 fix="make the runner print both keys")
        extra = {k: v for k, v in data.items() if k not in known and k != "suite"}
        return cls(suite, str(data["library"]), str(data["model"]),
                   _num(data.get("samples_per_s")), _num(data.get("auc")), _num(data.get("wall_s")),
                   _num(data.get("peak_rss_mb")), extra, data.get("error"))


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- runners
def parse_result_line(stdout: str, source: str = "runner") -> dict[str, Any]:
    """The last stdout line that is a JSON object (libraries print their own chatter first)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data
    raise BenchmarkError(f"{source} printed no JSON result line",
                         fix="run it by hand and check its stderr")


def thread_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a runner: the thread count pinned for every BLAS/OpenMP pool."""
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_MAX_THREADS",
                "POLARS_MAX_THREADS", "RAYON_NUM_THREADS"):
        env[key] = str(threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.update(extra or {})
    return env


def run_runner(suite: str, cmd: Sequence[str], *, library: str, model: str, threads: int,
               timeout: float = 3600, env: dict[str, str] | None = None) -> Result:
    """Run one runner process; a failure becomes a Result with ``error`` set (last stderr line)."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=timeout,
                              env=thread_env(threads, env))
    except subprocess.TimeoutExpired:
        return Result(suite, library, model, error=f"timed out after {timeout:.0f} s")
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return Result(suite, library, model, error=(tail[-1] if tail else f"exit code {proc.returncode}")[:300])
    try:
        return Result.from_dict(suite, parse_result_line(proc.stdout, " ".join(cmd[:3])))
    except BenchmarkError as err:
        return Result(suite, library, model, error=str(err))


def alternate(jobs: Sequence[tuple[str, Callable[[], Result]]], rounds: int,
              log: Callable[[str], None] | None = None) -> list[list[Result]]:
    """Run ``jobs`` (label, thunk) round-robin ``rounds`` times: A B A B. Returns per-job lists."""
    out: list[list[Result]] = [[] for _ in jobs]
    for r in range(rounds):
        for i, (label, job) in enumerate(jobs):
            if log:
                log(f"round {r + 1}/{rounds}: {label}")
            out[i].append(job())
    return out


def combine_rounds(results: Sequence[Result]) -> Result:
    """One row from several rounds of the same job: best rate, best wall, worst RSS, first AUC.

    Failed rounds are ignored unless every round failed.
    """
    ok = [r for r in results if r.error is None]
    if not ok:
        return results[0]
    first = ok[0]
    rates = [r.samples_per_s for r in ok if r.samples_per_s is not None]
    walls = [r.wall_s for r in ok if r.wall_s is not None]
    rss = [r.peak_rss_mb for r in ok if r.peak_rss_mb is not None]
    extra = dict(first.extra)
    if len(ok) > 1:
        extra["rounds"] = len(ok)
        if rates:
            extra["samples_per_s_rounds"] = [round(x, 1) for x in rates]
    return Result(first.suite, first.library, first.model, max(rates) if rates else None, first.auc,
                  min(walls) if walls else None, max(rss) if rss else None, extra, None)


# --------------------------------------------------------------------------- ratios
@dataclass
class Comparison:
    """recforge against the fastest peer (speed) and the most accurate peer (AUC) on one model."""

    model: str
    best_peer: str | None
    speedup: float | None          # recforge samples/s / best peer samples/s
    auc_delta: float | None        # recforge AUC - that peer's AUC
    wall_ratio: float | None       # recforge wall / best-wall peer's wall
    accurate_peer: str | None = None          # the peer with the highest test AUC
    accurate_auc_delta: float | None = None   # recforge AUC - its AUC


def compare(results: Iterable[Result], baseline: str = BASELINE) -> list[Comparison]:
    """Per model: the fastest peer, recforge's speed-up over it, the AUC gap and wall ratio."""
    by_model: dict[str, list[Result]] = {}
    for r in results:
        by_model.setdefault(r.model, []).append(r)
    out = []
    for model, rows in by_model.items():
        ours = next((r for r in rows if r.library == baseline and r.error is None), None)
        peers = [r for r in rows if r.library != baseline and r.error is None]
        fast = [r for r in peers if r.samples_per_s]
        best = max(fast, key=lambda r: r.samples_per_s or 0.0) if fast else None
        timed = [r for r in peers if r.wall_s]
        best_wall = min(timed, key=lambda r: r.wall_s or 0.0) if timed else None
        speedup = auc_delta = wall_ratio = None
        if ours is not None and best is not None and ours.samples_per_s:
            speedup = ours.samples_per_s / best.samples_per_s  # type: ignore[operator]
            if ours.auc is not None and best.auc is not None:
                auc_delta = ours.auc - best.auc
        if ours is not None and best_wall is not None and ours.wall_s:
            wall_ratio = ours.wall_s / best_wall.wall_s  # type: ignore[operator]
        scored = [r for r in peers if r.auc is not None]
        accurate = max(scored, key=lambda r: r.auc or 0.0) if scored else None
        accurate_delta = (ours.auc - accurate.auc if ours is not None and ours.auc is not None  # type: ignore[operator]
                          and accurate is not None else None)
        out.append(Comparison(model, best.library if best else None, speedup, auc_delta, wall_ratio,
                              accurate.library if accurate else None, accurate_delta))
    return out


# --------------------------------------------------------------------------- seeds
@dataclass
class SeedSummary:
    """One library (in one precision) on one model over several seeds: means and spreads.

    ``std`` is the sample standard deviation (n - 1), as ``recforge train --seeds`` reports it;
    with one seed it is None.
    """

    model: str
    library: str
    precision: str | None
    seeds: list[int]
    aucs: list[float]
    valid_aucs: list[float]
    walls: list[float]
    rates: list[float]
    epochs: list[int]
    epoch_cap: int | None
    errors: list[str] = field(default_factory=list)

    @property
    def auc_mean(self) -> float | None:
        return statistics.fmean(self.aucs) if self.aucs else None

    @property
    def auc_std(self) -> float | None:
        return statistics.stdev(self.aucs) if len(self.aucs) > 1 else None

    @property
    def valid_mean(self) -> float | None:
        return statistics.fmean(self.valid_aucs) if self.valid_aucs else None

    @property
    def valid_std(self) -> float | None:
        return statistics.stdev(self.valid_aucs) if len(self.valid_aucs) > 1 else None

    @property
    def wall_mean(self) -> float | None:
        return statistics.fmean(self.walls) if self.walls else None

    @property
    def rate_mean(self) -> float | None:
        return statistics.fmean(self.rates) if self.rates else None


def summarize_seeds(results: Iterable[Result]) -> list[SeedSummary]:
    """Group per-seed results by (model, library, precision), in first-seen order.

    A failed seed is listed in ``errors`` and left out of the means (the table shows how many
    seeds each mean covers).
    """
    groups: dict[tuple[str, str, str | None], SeedSummary] = {}
    for r in results:
        precision = r.extra.get("precision")
        key = (r.model, r.library, precision)
        s = groups.setdefault(key, SeedSummary(r.model, r.library, precision, [], [], [], [], [], [], None))
        if r.error is not None:
            s.errors.append(r.error)
            continue
        if r.extra.get("seed") is not None:
            s.seeds.append(int(r.extra["seed"]))
        if r.auc is not None:
            s.aucs.append(r.auc)
        if r.extra.get("valid_auc") is not None:
            s.valid_aucs.append(float(r.extra["valid_auc"]))
        if r.wall_s is not None:
            s.walls.append(r.wall_s)
        if r.samples_per_s is not None:
            s.rates.append(r.samples_per_s)
        if r.extra.get("epochs") is not None:
            s.epochs.append(int(r.extra["epochs"]))
        if r.extra.get("epoch_cap") is not None:
            s.epoch_cap = int(r.extra["epoch_cap"])
    return list(groups.values())


@dataclass
class AccuracyComparison:
    """recforge (one precision) against the most accurate peer on one model, by 3-seed mean test AUC."""

    model: str
    precision: str | None
    recforge_auc: float | None
    best_peer: str | None
    peer_auc: float | None
    auc_delta: float | None       # recforge mean - best peer's mean
    wall_ratio: float | None      # recforge mean wall / that peer's mean wall
    fastest_peer: str | None
    speedup: float | None         # recforge mean samples/s / the fastest peer's


def compare_accuracy(summaries: Sequence[SeedSummary], baseline: str = BASELINE) -> list[AccuracyComparison]:
    """Per model and recforge precision: the peer with the highest mean test AUC, and the gap to it."""
    out = []
    models = list(dict.fromkeys(s.model for s in summaries))
    for model in models:
        rows = [s for s in summaries if s.model == model]
        peers = [s for s in rows if s.library != baseline and s.auc_mean is not None]
        best = max(peers, key=lambda s: s.auc_mean or 0.0) if peers else None
        rated = [s for s in peers if s.rate_mean]
        fastest = max(rated, key=lambda s: s.rate_mean or 0.0) if rated else None
        for ours in (s for s in rows if s.library == baseline and s.auc_mean is not None):
            delta = wall = speed = None
            if best is not None:
                delta = ours.auc_mean - best.auc_mean  # type: ignore[operator]
                if ours.wall_mean and best.wall_mean:
                    wall = ours.wall_mean / best.wall_mean
            if fastest is not None and ours.rate_mean:
                speed = ours.rate_mean / fastest.rate_mean  # type: ignore[operator]
            out.append(AccuracyComparison(model, ours.precision, ours.auc_mean, best.library if best else None,
                                          best.auc_mean if best else None, delta, wall,
                                          fastest.library if fastest else None, speed))
    return out


def _mean_std(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "–"
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"


def seeds_table(summaries: Sequence[SeedSummary]) -> str:
    """Markdown: per model, library and precision, the mean ± std over seeds and the per-seed AUCs."""
    lines = [("| model | library | precision | seeds | test AUC mean ± std | per seed | valid AUC mean ± std | "
             "samples/s | wall s | epochs run (cap) |"),
             "|---|---|---|---:|---|---|---|---:|---:|---|"]
    for s in summaries:
        per_seed = ", ".join(f"{a:.4f}" for a in s.aucs) or "–"
        epochs = ", ".join(str(e) for e in s.epochs) or "–"
        cap = "" if s.epoch_cap is None else f" ({s.epoch_cap})"
        errors = f"; failed: {'; '.join(s.errors)}" if s.errors else ""
        lines.append(f"| {s.model} | {s.library} | {s.precision or '–'} | {len(s.aucs)} | "
                     f"{_mean_std(s.auc_mean, s.auc_std)} | {per_seed}{errors} | "
                     f"{_mean_std(s.valid_mean, s.valid_std)} | {_fmt(s.rate_mean)} | "
                     f"{_fmt(s.wall_mean, 1)} | {epochs}{cap} |")
    return "\n".join(lines)


def accuracy_table(rows: Sequence[AccuracyComparison]) -> str:
    """Markdown: recforge against the most accurate peer (mean test AUC) and the fastest peer."""
    lines = [("| model | recforge precision | recforge test AUC | most accurate peer | its test AUC | "
             "AUC recforge - peer | wall recforge / that peer | fastest peer | samples/s recforge / it |"),
             "|---|---|---:|---|---:|---:|---:|---|---:|"]
    for c in rows:
        delta = "–" if c.auc_delta is None else f"{c.auc_delta:+.4f}"
        wall = "–" if c.wall_ratio is None else f"{c.wall_ratio:.2f}"
        speed = "–" if c.speedup is None else f"{c.speedup:.2f}x"
        lines.append(f"| {c.model} | {c.precision or '–'} | {_fmt(c.recforge_auc, 4)} | {c.best_peer or '–'} | "
                     f"{_fmt(c.peer_auc, 4)} | {delta} | {wall} | {c.fastest_peer or '–'} | {speed} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- rendering
def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def results_table(results: Sequence[Result]) -> str:
    """Markdown table of results; failed rows show their error in the last column.

    The precision column is the runner's ``precision`` (fp32 or bf16 autocast; the peers
    always train in fp32).
    """
    lines = ["| model | library | precision | samples/s | test AUC | wall s | peak RSS MB | note |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        note = r.error or ", ".join(f"{k}={_fmt(v, 3) if isinstance(v, float) else v}"
                                    for k, v in r.extra.items() if k not in ("samples_per_s_rounds", "precision"))
        lines.append(f"| {r.model} | {r.library} | {r.extra.get('precision') or '–'} | {_fmt(r.samples_per_s)} | "
                     f"{_fmt(r.auc, 4)} | {_fmt(r.wall_s, 1)} | {_fmt(r.peak_rss_mb)} | {note} |")
    return "\n".join(lines)


def comparison_table(rows: Sequence[Comparison]) -> str:
    """Markdown table of recforge / fastest peer ratios and the AUC gap to the most accurate peer."""
    lines = [("| model | fastest peer | recforge / peer samples/s | AUC recforge - peer | most accurate peer | "
              "AUC recforge - most accurate | wall recforge / best peer |"),
             "|---|---|---:|---:|---|---:|---:|"]
    for c in rows:
        delta = "–" if c.auc_delta is None else f"{c.auc_delta:+.4f}"
        speed = "–" if c.speedup is None else f"{c.speedup:.2f}x"
        wall = "–" if c.wall_ratio is None else f"{c.wall_ratio:.2f}"
        accurate = "–" if c.accurate_auc_delta is None else f"{c.accurate_auc_delta:+.4f}"
        lines.append(f"| {c.model} | {c.best_peer or '–'} | {speed} | {delta} | {c.accurate_peer or '–'} | "
                     f"{accurate} | {wall} |")
    return "\n".join(lines)


def to_json(results: Sequence[Result]) -> str:
    """The ``--json`` document: one list of flat result objects."""
    return json.dumps([r.to_dict() for r in results], indent=None, default=str)


def echo(message: str) -> None:
    """Progress lines go to stderr so ``--json`` stdout stays one document."""
    print(message, file=sys.stderr, flush=True)
