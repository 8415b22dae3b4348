"""Fine-tuning speed: ``text-lm`` top-k training steps with the lower-layer cache vs without.

Same encoder (offline all-MiniLM-L6-v2, top ``k`` layers train), same batches of real product
titles (Amazon Office ``"{title}. Brand: {brand}"``, truncated to 32 tokens as in the case
study), same thread count. Rounds alternate cached / uncached and the best round of each is
reported, so a loaded machine slows both alike; the first cached round, which fills the cache,
is reported separately. The uncached runner is the whole model with the same layers trainable
(what ``text-lm`` did before the cache).

    python -m benchmarks.lm_finetune_bench [--layers 1] [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch


def office_titles(data_dir: Path, limit: int) -> list[str]:
    """``"{title}. Brand: {brand}"`` of the Amazon Office catalogue (the case study's item text)."""
    items = json.loads((data_dir / "amazon-office-2018-seq" / "items.json").read_text())
    return [f"{v.get('title', '')}. Brand: {v.get('brand', '')}" for v in items.values()][:limit]


def epoch_seconds(encoder, batches: list[torch.Tensor], optimizer) -> float:
    """Wall seconds of one pass of training steps over ``batches``."""
    start = time.perf_counter()
    for batch in batches:
        optimizer.zero_grad()
        encoder({"title": batch}, {}).pow(2).sum().backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=1, help="top layers that train")
    parser.add_argument("--steps", type=int, default=8, help="training steps per epoch")
    parser.add_argument("--batch", type=int, default=256, help="texts per step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from recforge.core.components import SharedTables, build_params
    from recforge.core.data.schema import FieldInfo
    from recforge.core.optim import make_optimizer
    from recforge.core.train import TrainSettings
    from recforge.plugins.encoders.lm_finetune import WholeModel
    from recforge.plugins.encoders.text_lm import TextLMEncoder

    data_dir = Path(os.environ.get("RECFORGE_DATA_DIR", "/work/shared/datasets"))
    titles = office_titles(data_dir, args.steps * args.batch)
    field = FieldInfo(name="title", kind="text", role="item", texts=["", "", *titles], vocab_size=len(titles) + 2)
    params = build_params(TextLMEncoder, {"mode": "finetune", "finetune_layers": args.layers, "max_length": 32})
    encoder = TextLMEncoder([field], 64, params, SharedTables())
    encoder.train()
    optimizer = make_optimizer(encoder, TrainSettings.from_config({"lr": 1e-3}))
    order = torch.randperm(len(titles), generator=torch.Generator().manual_seed(0)) + 2
    batches = list(order.split(args.batch))
    cached_runner, uncached_runner = encoder.runner, WholeModel(encoder.lm)
    first = epoch_seconds(encoder, batches, optimizer)  # fills the cache
    best = {"cached": float("inf"), "uncached": float("inf")}
    for _ in range(args.rounds):
        for name, runner in (("uncached", uncached_runner), ("cached", cached_runner)):
            encoder.runner = runner
            best[name] = min(best[name], epoch_seconds(encoder, batches, optimizer))
    print(f"MiniLM, top {args.layers} layer(s) train, {len(titles)} titles, {args.steps} steps of {args.batch}, "
          f"{args.threads} thread(s), best of {args.rounds} rounds:")
    print(f"  first cached epoch (fills the cache): {first:.2f}s")
    print(f"  uncached epoch: {best['uncached']:.2f}s   cached epoch: {best['cached']:.2f}s   "
          f"speed-up {best['uncached'] / best['cached']:.2f}x")


if __name__ == "__main__":
    main()
