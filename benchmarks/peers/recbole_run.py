"""RecBole on ml100k-ctr: one model, the peers' settings, one JSON result line.

    .peers-venv/bin/python benchmarks/peers/recbole_run.py --model deepfm [--epochs N]

The CSVs become RecBole atomic files (``.train/.valid/.test.inter`` with typed headers,
``genres`` a ``token_seq``) read through ``create_dataset`` with ``benchmark_filename``, so
RecBole keeps the given split; training is ``Trainer.fit`` with ``stopping_step`` = patience
and ``valid_metric`` AUC. Network sizes follow recforge's presets (see fuxictr_run.py).
Two shims, both outside RecBole's code: the process runs inside a temp dir (RecBole writes
``log/`` and ``log_tensorboard/`` into the working directory), and ``torch.load`` gets
``weights_only=False`` for RecBole's own best-model checkpoint (torch >= 2.6 changed the
default and RecBole 1.2.0 pickles its config into the checkpoint).
"""

from __future__ import annotations

import atexit
import csv
import functools
import logging
import os
import shutil
import tempfile
import time
from importlib import metadata

import _common as c
import torch

LIBRARY = "recbole"
NAMES = {"lr": "LR", "fm": "FM", "deepfm": "DeepFM", "dcnv2": "DCNV2", "autoint": "AutoInt", "xdeepfm": "xDeepFM"}
SIZES = {
    "deepfm": {"mlp_hidden_size": [300, 300, 300]},
    "dcnv2": {"mlp_hidden_size": [500, 500, 500], "cross_layer_num": 3, "mixed": False, "structure": "parallel"},
    "xdeepfm": {"mlp_hidden_size": [500, 500, 500], "cin_layer_size": [32, 32, 32], "direct": True},
    "autoint": {"mlp_hidden_size": [400, 400], "attention_size": c.EMBEDDING_DIM, "n_layers": 3, "num_heads": 2,
                "has_residual": True},
}
TYPES = {c.LABEL: "float", c.MULTI: "token_seq"}


def write_atomic(args: c.Args, folder: str, dataset: str) -> tuple[list[str], int]:
    """The three CSVs as tab-separated atomic files; returns the columns and training rows."""
    os.makedirs(os.path.join(folder, dataset), exist_ok=True)
    columns = [c.LABEL, *c.CATEGORICAL, c.MULTI]
    rows = 0
    for split in ("train", "valid", "test"):
        with open(args.csv(split), newline="", encoding="utf-8") as src, \
                open(os.path.join(folder, dataset, f"{dataset}.{split}.inter"), "w", encoding="utf-8") as dst:
            dst.write("\t".join(f"{col}:{TYPES.get(col, 'token')}" for col in columns) + "\n")
            for n, row in enumerate(csv.DictReader(src), 1):
                dst.write("\t".join(row[col] for col in columns) + "\n")
            rows = n if split == "train" else rows
    return columns, rows


def main() -> None:
    args = c.parse_args(LIBRARY)
    torch.load = functools.partial(torch.load, weights_only=False)  # RecBole's own checkpoint
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    workdir = tempfile.mkdtemp(prefix="recbole-bench-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    os.chdir(workdir)
    start = time.perf_counter()
    dataset = "ml100k_ctr"
    columns, rows = write_atomic(args, workdir, dataset)
    config_dict = {
        "data_path": workdir, "benchmark_filename": ["train", "valid", "test"], "field_separator": "\t",
        "seq_separator": c.MULTI_SEP, "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
        "LABEL_FIELD": c.LABEL, "TIME_FIELD": None, "load_col": {"inter": columns},
        "eval_args": {"group_by": None, "mode": "labeled", "order": "RO", "split": {"RS": [0.8, 0.1, 0.1]}},
        "metrics": ["AUC", "LogLoss"], "valid_metric": "AUC", "eval_batch_size": 16384,
        "train_batch_size": c.BATCH_SIZE, "learning_rate": c.LR, "learner": "adam", "embedding_size": c.EMBEDDING_DIM,
        "epochs": args.max_epochs, "stopping_step": (args.max_epochs + 1) if args.fixed_epochs else c.PATIENCE,
        "seed": args.seed, "reproducibility": True, "train_neg_sample_args": None, "worker": 0,
        "checkpoint_dir": os.path.join(workdir, "saved"), "show_progress": False, "use_gpu": False,
        "state": "ERROR", "dropout_prob": 0.0, **SIZES.get(args.model, {}),
    }
    config = Config(model=NAMES[args.model], dataset=dataset, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    torch.set_num_threads(args.threads)
    logging.disable(logging.INFO)
    data = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, data)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    clock = c.LoopClock()
    epoch_fn = trainer._train_epoch

    def timed_epoch(*a, **k):  # type: ignore[no-untyped-def]
        with clock.epoch(rows):
            return epoch_fn(*a, **k)

    trainer._train_epoch = timed_epoch
    best_valid, _ = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    wall = time.perf_counter() - start
    # fit's best valid score (valid_metric AUC) is that of the checkpoint evaluated on test
    c.emit(LIBRARY, args, clock=clock, auc=float(result["auc"]), wall_s=wall, version=metadata.version("recbole"),
           valid_auc=float(best_valid))


if __name__ == "__main__":
    main()
