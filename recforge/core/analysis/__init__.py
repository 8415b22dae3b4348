"""Feature-interaction analysis: which fields and field pairs drive a model's predictions.

Views (one module each): permutation importance (:mod:`.importance`), pairwise interaction
strength (:mod:`.pairs`), information gain (:mod:`.information`), model-specific layer views
(:mod:`.model_views`) and text-vs-id contributions on warm and cold items
(:mod:`.text_vs_ids`). :func:`analyze` runs them all; :func:`save_report` writes JSON + PNGs.
"""

from recforge.core.analysis.columns import batched_predict, model_predict_fn, table_columns
from recforge.core.analysis.importance import permutation_importance
from recforge.core.analysis.information import information_gain, mutual_information
from recforge.core.analysis.model_views import model_views
from recforge.core.analysis.pairs import friedman_h, permutation_pairs
from recforge.core.analysis.report import analyze, save_report, summarize
from recforge.core.analysis.text_vs_ids import field_groups, text_vs_ids

__all__ = [
    "analyze",
    "batched_predict",
    "field_groups",
    "friedman_h",
    "information_gain",
    "model_predict_fn",
    "model_views",
    "mutual_information",
    "permutation_importance",
    "permutation_pairs",
    "save_report",
    "summarize",
    "table_columns",
    "text_vs_ids",
]
