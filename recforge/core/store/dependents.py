"""The error raised when deleting a run would orphan registered model versions.

Kept in its own module so the CLI prompt and the console can describe the same versions the
store refuses on (:func:`describe_versions`).
"""

from __future__ import annotations

from collections.abc import Sequence

from recforge.core.errors import StoreError
from recforge.core.store.tables import ModelVersion


def describe_versions(versions: Sequence[ModelVersion]) -> str:
    """``"ranker v2 (production), ranker v3 (staging)"``: the versions a run's model serves."""
    return ", ".join(f"{mv.name} v{mv.version} ({mv.stage})" for mv in versions)


class DependentModelsError(StoreError):
    """A run cannot be deleted while registered model versions use its saved model."""

    def __init__(self, run_id: int, versions: Sequence[ModelVersion]) -> None:
        self.run_id = run_id
        self.versions = list(versions)
        super().__init__(
            f"run {run_id} is the source of registered model versions {describe_versions(versions)}; "
            "deleting it would delete their weights",
            fix=f"delete those versions first, or pass `--cascade` to `recforge runs delete {run_id}` "
            "to deregister them together with the run",
        )
