"""The served model version and its hot swap when a registry stage moves.

:class:`ModelHolder` keeps the :class:`ServingModel` that answers. For a ``name@stage``
reference a background thread polls the registry; when another version holds the stage it
loads that version *beside* the running one (items added to the live catalogue are carried
over), then replaces the reference in one assignment. Requests already being scored finish
on the old version, the next ones use the new one: none fails or is dropped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from recforge.services.model_refs import ModelRef, open_model, resolve_model_ref
from recforge.serving.ann import IndexConfig
from recforge.serving.engine import ServingModel

log = logging.getLogger(__name__)


def load_serving(text: str, persist: bool = True, index_config: IndexConfig | None = None) -> ServingModel:
    """Resolve a model reference and load it for serving."""
    from recforge.core.store import Store

    with Store.open() as store:
        ref, loaded = open_model(text, store)
    return ServingModel(ref, loaded, None, persist, index_config)


class ModelHolder:
    """The model that answers now; swaps to a new version of a stage reference.

    Args:
        text: the model reference being served.
        poll_seconds: how often a stage reference is re-resolved (0 = never).
        index_config: the retrieval index of embedding models (every loaded version).
    """

    def __init__(self, text: str, poll_seconds: float = 2.0, persist: bool = True,
                 index_config: IndexConfig | None = None, on_swap: Any = None) -> None:
        self.text = text
        self.persist = persist
        self.index_config = index_config
        self.current = load_serving(text, persist, index_config)
        self.on_swap = on_swap
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if poll_seconds > 0 and self.current.ref.follows_stage:
            self._thread = threading.Thread(target=self._poll, name="recforge-hot-swap", daemon=True)
            self._thread.start()

    def _resolve(self) -> ModelRef:
        from recforge.core.store import Store

        with Store.open() as store:
            return resolve_model_ref(self.text, store)

    def check(self) -> bool:
        """Swap when the stage now names another version; True when it swapped."""
        ref = self._resolve()
        if ref.label == self.current.version:
            return False
        fresh = load_serving(self.text, self.persist, self.index_config)
        carried = list(self.current.catalogue.state.added.values())
        if carried:
            try:
                fresh.add_items(carried)
            except Exception as err:  # noqa: BLE001 - the new version may not take them; it still serves
                log.warning("new version %s did not take the added items: %s", fresh.version, err)
        self.current = fresh  # one reference assignment: atomic for the readers
        if self.on_swap is not None:
            self.on_swap(fresh)
        return True

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check()
            except Exception as err:  # noqa: BLE001 - a failed poll keeps the running version
                log.warning("hot swap check failed: %s", err)

    def stop(self) -> None:
        self._stop.set()
