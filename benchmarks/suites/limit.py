"""``limit``: how close DeepFM training gets to what the machine's matmul units allow.

Three measurements, alternated per round in one process at ``--threads`` threads:

* ``matmul-f32``: square float32 ``torch.mm`` GFLOP/s (the machine's practical peak);
* ``DeepFM-mlp-matmuls``: the DeepFM MLP's matrix multiplies alone, forward and backward
  (``Y = X W^T``, ``dX = dY W``, ``dW = dY^T X`` per layer) at the training batch's shapes;
* ``DeepFM-train``: recforge's Trainer running DeepFM (the preset's defaults, embedding 16,
  ml100k-ctr's 8 fields) on synthetic rows of ml100k's vocabulary sizes.

From them: the fraction of the matmul peak DeepFM training achieves (MLP FLOPs per sample x
samples/s / peak) and the step time over the MLP-matmuls-alone time (issue 9's bar: <= 1.4).
The last two are measured twice: in float32, and with bf16 autocast (``train.amp``, as the
ml100k DeepFM config trains) against the same matmuls in bfloat16.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from benchmarks.harness import Result, echo
from benchmarks.suites import Options, SuiteOutput
from benchmarks.synthetic import ML100K_SHAPE, build_deepfm, make_ctr

SIZES = {"tiny": {"n": 256, "repeat": 3, "batch": 256, "steps": 4, "rows": 2048},
         "full": {"n": 2048, "repeat": 5, "batch": 4096, "steps": 40, "rows": 4096 * 40}}
STEP_BAR = 1.4


def matmul_gflops(n: int, repeat: int) -> float:
    """Best-of-``repeat`` GFLOP/s of an ``n x n`` float32 matrix product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def mlp_shapes(model: nn.Module) -> list[tuple[int, int]]:
    """``(in, out)`` of each Linear inside the model's ``mlp`` interaction(s), in order."""
    shapes = []
    for module in model.modules():
        if getattr(type(module), "name", "") == "mlp":
            shapes += [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]
    if not shapes:
        raise ValueError("the model has no 'mlp' interaction")
    return shapes


def mlp_flops_per_sample(shapes: list[tuple[int, int]]) -> int:
    """Training FLOPs per row of the MLP's matmuls: 2*in*out forward, twice that backward."""
    return sum(3 * 2 * i * o for i, o in shapes)


def mlp_matmul_seconds(shapes: list[tuple[int, int]], batch: int, repeat: int,
                       dtype: torch.dtype = torch.float32) -> float:
    """Best time of one forward+backward pass of just the MLP's matrix multiplies."""
    xs = [torch.randn(batch, i).to(dtype) for i, _ in shapes]
    ws = [torch.randn(o, i).to(dtype) for i, o in shapes]
    dys = [torch.randn(batch, o).to(dtype) for _, o in shapes]

    def once() -> None:
        for x, w, dy in zip(xs, ws, dys):
            torch.mm(x, w.t())        # forward
            torch.mm(dy, w)           # grad of the input
            torch.mm(dy.t(), x)       # grad of the weight
    once()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - start)
    return best


def deepfm_samples_per_s(model: nn.Module, table: Any, batch: int, steps: int, amp: bool = False) -> float:
    """recforge's own Trainer for ``steps`` steps; its rate measurement over those steps."""
    from recforge.core.train import Trainer, TrainSettings

    rates: list[float] = []
    settings = TrainSettings(batch_size=batch, epochs=1, max_steps=steps, patience=0, checkpoint=False, amp=amp)
    trainer = Trainer(model, table, settings, progress=False, event_every_s=float("inf"),
                      on_event=lambda e: rates.append(e.samples_per_s) if e.kind == "step" and e.samples_per_s else None)
    trainer.fit()
    if not rates:
        raise RuntimeError("the trainer reported no step rate")
    return rates[-1]


def run(opts: Options) -> SuiteOutput:
    size = SIZES[opts.size]
    torch.set_num_threads(opts.threads)
    torch.manual_seed(2024)
    data = make_ctr(size["rows"], ML100K_SHAPE)
    model = build_deepfm(data)
    shapes = mlp_shapes(model)
    flops = mlp_flops_per_sample(shapes)
    deepfm_samples_per_s(model, data.table, size["batch"], 2)  # warm-up: allocator, Adam state
    deepfm_samples_per_s(model, data.table, size["batch"], 2, amp=True)
    precisions = {"float32": (torch.float32, False), "bf16 autocast": (torch.bfloat16, True)}
    peak = 0.0
    mm_s = dict.fromkeys(precisions, float("inf"))
    rate = dict.fromkeys(precisions, 0.0)
    for r in range(opts.rounds):
        echo(f"round {r + 1}/{opts.rounds}: matmul, MLP matmuls, DeepFM steps (float32 and bf16)")
        peak = max(peak, matmul_gflops(size["n"], size["repeat"]))
        for label, (dtype, amp) in precisions.items():
            mm_s[label] = min(mm_s[label], mlp_matmul_seconds(shapes, size["batch"], size["repeat"], dtype))
            rate[label] = max(rate[label], deepfm_samples_per_s(model, data.table, size["batch"], size["steps"], amp))
    results = [Result("limit", "machine", "matmul-f32", extra={"gflops": round(peak, 1), "n": size["n"],
                                                              "threads": opts.threads})]
    rows = ["| figure | value |", "|---|---:|",
            f"| float32 matmul ({size['n']}x{size['n']}, {opts.threads} threads) | {peak:,.1f} GFLOP/s |",
            f"| DeepFM MLP layers (in, out) | {shapes} |",
            f"| MLP training FLOPs per sample | {flops:,} |"]
    notes = []
    for label in precisions:
        step_s = size["batch"] / rate[label]
        mlp_rate = size["batch"] / mm_s[label]
        fraction = flops * rate[label] / (peak * 1e9)
        suffix = "" if label == "float32" else "-bf16"
        results += [
            Result("limit", "machine", f"DeepFM-mlp-matmuls{suffix}", samples_per_s=round(mlp_rate, 1),
                   extra={"ms_per_step": round(mm_s[label] * 1e3, 3), "batch": size["batch"],
                          "gflops": round(flops * mlp_rate / 1e9, 1), "shapes": shapes}),
            Result("limit", "recforge", f"DeepFM-train{suffix}", samples_per_s=round(rate[label], 1),
                   extra={"ms_per_step": round(step_s * 1e3, 3), "batch": size["batch"],
                          "mlp_flops_per_sample": flops, "fraction_of_float32_peak": round(fraction, 4),
                          "step_over_mlp_matmuls": round(step_s / mm_s[label], 3)}),
        ]
        rows += [
            f"| DeepFM training, {label} (recforge Trainer, batch {size['batch']}) | {rate[label]:,.0f} samples/s, {step_s * 1e3:.2f} ms/step |",
            f"| {label}: MLP FLOP rate / float32 matmul peak | {fraction:.1%} |",
            f"| {label}: MLP matmuls alone (fwd+bwd, same shapes) | {mm_s[label] * 1e3:.2f} ms/step ({flops * mlp_rate / 1e9:,.1f} GFLOP/s) |",
            f"| {label}: DeepFM step / MLP matmuls alone | {step_s / mm_s[label]:.2f} (bar <= {STEP_BAR}) |",
        ]
        verdict = "met" if step_s / mm_s[label] <= STEP_BAR else "NOT met"
        notes.append(f"{label}: step-time bar (<= {STEP_BAR}x the MLP matmuls in the same precision): "
                     f"{step_s / mm_s[label]:.2f} -> {verdict}")
    method = (f"DeepFM: recforge's preset (embedding 16, 8 fields) on {size['rows']:,} synthetic rows with "
              f"ml100k-ctr's vocabulary sizes; {size['steps']} Trainer steps after a warm-up; best of {opts.rounds} round(s)")
    return SuiteOutput(results, ["\n".join(rows)], [method, *notes])
