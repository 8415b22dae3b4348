"""Evaluation of a model on one split, as the ``eval`` section of the config says.

Pointwise metrics (auc, gauc, logloss, rmse, mae) come from the model's predictions of every
row; ranking metrics (``name@k``) from full ranking of the catalogue per user (RecBole's
protocol), sampled candidates, or per-row queries (``eval.protocol``). With ``eval.group_by``
the rows are grouped by that column instead of by user: gAUC is the row-weighted AUC of each
group and ranking metrics rank each group's rows by prediction with the rows' labels as the
relevance -- the impression protocol of MIND, where a group is one impression's candidates.

The monitored metric follows the ranker's task (:func:`default_monitor`), and a monitor the
model never reports is an error before training starts (:func:`resolve_monitor`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import sparse

from recforge.core import distributed
from recforge.core.config_schema import ExperimentConfig, TrainConfig
from recforge.core.data.interactions import column
from recforge.core.errors import ConfigError, did_you_mean, unknown_name

#: groups of rows ranked per chunk of the grouped ranking protocol
GROUP_CHUNK = 4096
#: the monitored metric of each task when ``train.monitor`` is not set
TASK_MONITORS = {"pointwise": "valid.auc", "rating": "valid.rmse"}
RANKING_MONITOR = "valid.ndcg@10"


def metric_names(config: Any, task: str) -> list[str]:
    """``eval.metrics`` (or the task's defaults), ranking names expanded by ``eval.k``."""
    return ExperimentConfig.parse(config).eval.metric_names(task)


@torch.no_grad()
def predict_table(model: Any, table: Any, batch_size: int = 16384, device: Any = "cpu") -> torch.Tensor:
    """``model.predict`` over every row of a TensorTable, in order.

    Under torch.distributed each rank predicts its contiguous shard of the rows and the parts
    are gathered in rank order: every rank gets all ``table.num_rows`` predictions, each row
    exactly once (a collective: every rank must call it).
    """
    model.eval()
    part = table.shard(distributed.rank(), distributed.world_size()) if distributed.is_active() else table
    outs = [model.predict({k: v.to(device) for k, v in b.items()}).float().cpu()
            for b in part.iter_batches(batch_size)]
    return distributed.all_gather_varlen(torch.cat(outs) if outs else torch.zeros(0))


def _columns_of(table: Any) -> list[str]:
    columns = getattr(table, "columns", None)
    return list(columns) if columns is not None else list(table.batch(torch.arange(min(1, table.num_rows))).keys())


def group_column(table: Any, prepared: Any, group_by: str | None) -> np.ndarray | None:
    """The grouping ids of a split: ``eval.group_by``'s column, else the user field."""
    if group_by is None:
        return column(table, prepared.user_field).numpy() if prepared.user_field else None
    columns = _columns_of(table)
    if group_by not in columns:
        raise unknown_name("column in eval.group_by", group_by, columns,
                           fix="name a field declared in data.fields (e.g. an impression id)")
    values = column(table, group_by)
    if values.dim() != 1:
        raise ConfigError(f"eval.group_by column '{group_by}' holds more than one value per row",
                          fix="group by a single-valued (categorical or numeric) field")
    return values.numpy()


def grouped_ranking(names: list[str], labels: np.ndarray, preds: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Ranking metrics of rows grouped by ``groups``: each group's rows ranked by prediction,
    relevant where the label is positive; groups without a positive row are skipped."""
    from recforge.core.metrics import RankingAccumulator

    order = np.argsort(groups, kind="stable")
    _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    width = int(counts.max()) if counts.size else 1
    acc = RankingAccumulator(names, num_items=width)
    for lo in range(0, starts.size, GROUP_CHUNK):
        s, c = starts[lo:lo + GROUP_CHUNK], counts[lo:lo + GROUP_CHUNK]
        rows = np.repeat(np.arange(s.size), c)
        cols = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        idx = order[np.repeat(s, c) + cols]
        scores = torch.full((s.size, width), -torch.inf)
        scores[torch.from_numpy(rows), torch.from_numpy(cols)] = torch.from_numpy(preds[idx]).float()
        rel = labels[idx] > 0
        gt = sparse.csr_matrix((np.ones(int(rel.sum()), dtype=np.float32), (rows[rel], cols[rel])),
                               shape=(s.size, width))
        acc.update(scores, gt)
    return acc.result()


def evaluate(model: Any, prepared: Any, split: str, config: Any, device: Any = "cpu") -> dict[str, float]:
    """Metrics of ``model`` on ``prepared.splits[split]`` as the ``eval`` section says."""
    from recforge.core.metrics import compute_metrics
    from recforge.core.ranking_eval import evaluate_full_ranking, evaluate_rows, evaluate_sampled

    config = ExperimentConfig.parse(config)
    ev = config.eval
    names = ev.metric_names(model.task)
    if not ev.metrics and ev.group_by is None and not prepared.user_field:
        names = [n for n in names if n != "gauc"]  # a default, not a request: data without users has no groups
    pointwise = [n for n in names if "@" not in n]
    ranking = [n for n in names if "@" in n]
    table = prepared.splits[split]
    out: dict[str, float] = {}
    grouped = ev.group_by is not None
    if grouped and "gauc" not in pointwise and not ranking:
        raise ConfigError(f"eval.group_by '{ev.group_by}' is set but no metric groups rows",
                          fix="add gauc or a ranking metric (e.g. mrr@10) to eval.metrics, or drop eval.group_by")
    preds = None
    if pointwise or (grouped and ranking):
        if not prepared.label:
            raise ConfigError(f"metrics {pointwise or ranking} need a label field",
                              fix="use ranking metrics such as ndcg@10 without eval.group_by")
        preds = predict_table(model, table, config.train.eval_batch_size, device).numpy()
    if pointwise:
        labels = column(table, prepared.label).numpy()
        groups = group_column(table, prepared, ev.group_by) if "gauc" in pointwise else None
        out.update(compute_metrics(pointwise, labels, preds, groups=groups))
    if ranking and grouped:
        labels = column(table, prepared.label).numpy()
        out.update(grouped_ranking(ranking, labels, preds, group_column(table, prepared, ev.group_by)))
    elif ranking and ev.protocol == "rows":
        out.update(evaluate_rows(model, prepared, split, ks=(), metrics=ranking, device=device))
    elif ranking and ev.protocol == "sampled":
        out.update(evaluate_sampled(model, prepared, split, ks=(), metrics=ranking, device=device,
                                    num_negatives=ev.num_negatives or 100))
    elif ranking:
        out.update(evaluate_full_ranking(model, prepared, split, ks=(), metrics=ranking, device=device))
    return {k.lower(): float(v) for k, v in out.items()}


def check_splits(config: ExperimentConfig, prepared: Any) -> list[str]:
    """``eval.splits``, each checked against the prepared data's splits."""
    for split in config.eval.splits:
        if split not in prepared.splits:
            raise unknown_name("split in eval.splits", split, prepared.splits, fix="name a split of the data")
    return list(config.eval.splits)


def default_monitor(task: str, reported: list[str]) -> str:
    """The task's monitor (CTR: valid.auc, rating: valid.rmse, ranking: valid.ndcg@10), or the
    first reported metric when the task's own is not among ``eval.metrics``."""
    wanted = TASK_MONITORS.get(task, RANKING_MONITOR)
    return wanted if wanted[len("valid."):] in reported else f"valid.{reported[0]}"


def resolve_monitor(config: ExperimentConfig, task: str, has_valid: bool) -> TrainConfig:
    """The train settings with ``monitor`` set: explicit (and checked) or the task's default.

    Raises:
        ConfigError: the monitor names a metric the model never reports (before training).
    """
    settings = config.train
    reported = config.eval.metric_names(task)
    choices = ["train.loss", *(f"valid.{n}" for n in reported)] if has_valid else ["train.loss"]
    monitor = settings.monitor
    if monitor is None:
        monitor = default_monitor(task, reported) if has_valid else "train.loss"
    elif monitor not in choices:
        raise ConfigError(f"train.monitor '{monitor}' is not a metric the {task} model reports"
                          f"{did_you_mean(monitor, choices)}",
                          fix=f"monitor one of {', '.join(choices)}, or add the metric to eval.metrics")
    return settings.model_copy(update={"monitor": monitor})
