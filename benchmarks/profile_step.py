"""Where a recforge training step spends its time: torch profiler over the real Trainer.

    python -m benchmarks.profile_step --model deepfm [--steps 20] [--threads 2] [--top 15] [--amp]

Prepares ml100k-ctr through ``prepare_data`` with ``examples/configs/ml100k-ctr-MODEL.yaml``,
builds the model, warms up, then profiles ``--steps`` training steps of the Trainer (batching,
forward, backward, Adam) and prints the ops with the most self CPU time, plus the share of
matrix multiplies. This is the "profile before optimising" step of issue 9; the table it
prints is what docs/benchmarks.md quotes under "what bounds each figure".
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deepfm")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (train.amp)")
    args = parser.parse_args(argv)
    os.environ["RECFORGE_HOME"] = tempfile.mkdtemp(prefix="recforge-profile-")
    os.environ.setdefault("RECFORGE_TASKS_DIR", str(ROOT.parent / "shared" / "tasks"))
    import torch
    from torch.profiler import ProfilerActivity, profile

    from recforge.core.config import load_config
    from recforge.core.data import prepare_data
    from recforge.core.model import build_model
    from recforge.core.train import Trainer, TrainSettings

    torch.set_num_threads(args.threads)
    from recforge.core.allocator import keep_freed_memory

    keep_freed_memory()  # as `recforge train` does: the library no longer tunes malloc by itself
    config = load_config(ROOT / "examples" / "configs" / f"ml100k-ctr-{args.model}.yaml")
    prepared = prepare_data(config.data_section(), store=None)
    model = build_model(config, prepared)
    train = prepared.splits["train"]

    def steps(n: int) -> None:
        settings = TrainSettings(batch_size=4096, epochs=1, max_steps=n, patience=0, checkpoint=False, amp=args.amp)
        Trainer(model, train, settings, progress=False).fit()

    steps(3)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        steps(args.steps)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    mm = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS)
    print(f"model={args.model} steps={args.steps} threads={args.threads} self CPU total {total / 1e3:,.0f} ms; "
          f"matmul ops {mm / max(total, 1):.1%}")
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.top))


if __name__ == "__main__":
    main()
