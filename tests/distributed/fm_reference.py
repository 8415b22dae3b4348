"""The short FM run of the shipped config that the two-node and Ray tests compare."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FM_CONFIG = REPO / "examples" / "configs" / "ml100k-ctr-fm.yaml"
#: a short run of the shipped FM config: 2 epochs, one thread, the config's batch size
SMALL_RUN = ["train.epochs=2", "train.patience=0", "train.threads=1", "train.batch_size=4096"]
AUC_BAND = 0.003


def train_args() -> list[str]:
    """``recforge train`` arguments of the short FM run (without launch flags)."""
    return ["train", str(FM_CONFIG), *[a for s in SMALL_RUN for a in ("--set", s)], "--json"]
