"""The run store: SQLAlchemy engine, ORM tables, migrations check and the :class:`Store` API.

>>> from recforge.core.store import Store
>>> store = Store.open()          # RECFORGE_DB or sqlite:///$RECFORGE_HOME/recforge.db
"""

from recforge.core.store.repository import STALE_ERROR, Store
from recforge.core.store.tables import (
    MODEL_STAGES,
    RUN_STATUSES,
    Artifact,
    Dataset,
    Experiment,
    Metric,
    ModelVersion,
    Param,
    Run,
    TextCacheEntry,
)

__all__ = [
    "MODEL_STAGES",
    "RUN_STATUSES",
    "STALE_ERROR",
    "Artifact",
    "Dataset",
    "Experiment",
    "Metric",
    "ModelVersion",
    "Param",
    "Run",
    "Store",
    "TextCacheEntry",
]
