"""The protocol every trainable or fitted recommender model implements.

The trainer, evaluator, recommender and CLI only talk to models through this protocol, so the
two model families -- composed models (encoders -> interaction -> head ranker, built in
``recforge.core.model``) and standalone rankers (``recforge.plugins.rankers``: bpr, softmax,
two-tower, mf, lightgcn, itemknn, content) -- are interchangeable everywhere.

A model is a ``torch.nn.Module`` with:

* ``task``: ``pointwise`` | ``rating`` | ``pairwise`` | ``listwise`` | ``retrieval``; tells
  the trainer which batches to feed (pairwise/retrieval batches carry sampled negatives under
  ``neg_<item_field>``) and the evaluator which metrics apply.
* ``training_loss(batch)``: a scalar loss for one training batch.
* ``predict(batch)``: ``[B]`` scores for the (user, item) rows of a batch -- probabilities for
  CTR, ratings for rating regression, raw affinity scores for ranking models.
* ``score_items(users, items=None)``: ``[U, I]`` scores of users (item-field indices of the
  user field, ``[U]``) against items (``[I]`` item indices, all item indices when ``None``),
  used for full-ranking evaluation and top-K; models that cannot do it raise
  ``NotImplementedError``. With ``items=None`` column ``j`` is item index ``j`` over the whole
  item vocabulary, padding (0) and unknown (1) included: callers mask those columns (see
  ``recforge.core.ranking_eval``).
* ``item_vectors()``: ``[I, d]`` item representations, row ``i`` = item index ``i``, for the
  ``similar`` command; optional (``NotImplementedError``).
* ``prepare(context)``: precompute state before training or after loading (text vectors,
  graph normalisation, item-vector caches).

Models that need no gradient training (``itemknn``, ``content``) set ``trainable = False`` and
expose ``fit(prepared)``; the trainer calls ``fit`` instead of running epochs.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor

TASKS: tuple[str, ...] = ("pointwise", "rating", "pairwise", "listwise", "retrieval")


@runtime_checkable
class RecommenderModel(Protocol):
    """What the trainer, evaluator and recommender need from a model (see module docstring)."""

    task: str

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Scalar loss for one training batch."""
        ...

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B]`` predictions for the rows of ``batch``."""
        ...

    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        """``[U, I]`` scores of ``users`` against ``items`` (every item index when ``None``).

        ``users`` are indices of the user field. Raise ``NotImplementedError`` when the model
        cannot score arbitrary (user, item) pairs.
        """
        ...

    def item_vectors(self) -> Tensor:
        """``[I, d]`` item representations indexed by item index."""
        ...

    def prepare(self, context: Any) -> None:
        """Precompute state before training or after loading."""
        ...


@runtime_checkable
class RowScorer(Protocol):
    """Optional capability: rank every item for each row's own features (its history), not
    for a user id -- what the per-row (next-item) evaluation protocol needs."""

    def score_rows(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, I]`` scores of each row of ``batch`` against every item index."""
        ...


@runtime_checkable
class FieldReader(Protocol):
    """Optional capability: the fields a model reads from a batch, so scoring raw rows
    (``recforge predict``, ``POST /predict``) needs only those columns, not every column of
    the training data (a field declared for display, such as a title, is never read)."""

    def input_fields(self) -> set[str]:
        """Names of the fields whose columns the model's forward pass reads."""
        ...


@runtime_checkable
class FieldVectorModel(Protocol):
    """Optional capability of composed models: the stacked per-field vectors the interaction
    reads, so analysis can feed them to data-dependent views (e.g. pair weights)."""

    def field_vectors(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, F, D]`` field vectors of ``batch``, one slot per field name."""
        ...


@runtime_checkable
class LookupOwner(Protocol):
    """Optional capability: a module whose ``lookup_<role>__<field>`` buffers are installed
    through one method (sizes come from the saved tensors, not from a fresh build)."""

    def attach_lookups(self, tensors: dict[str, Tensor]) -> None:
        """Install the ``lookup_*`` buffers in ``tensors`` (names without the module prefix)."""
        ...


def is_trainable(model: Any) -> bool:
    """Whether ``model`` is trained by gradient descent (``False`` for fit-only models).

    Every model ``build_model`` returns declares ``trainable`` (``RecModel``, ``WholeModel``
    and standalone ``Ranker`` default to True), so this reads the declared flag.
    """
    return bool(model.trainable)


def neg_key(item_field: str) -> str:
    """Batch key holding sampled negatives for ``item_field`` (``[B]`` or ``[B, n]``)."""
    return f"neg_{item_field}"


def fields_read(model: Any) -> set[str] | None:
    """The fields ``model`` reads (:class:`FieldReader`), or None when it does not say (then
    every column of the training data is needed to score a row)."""
    return model.input_fields() if isinstance(model, FieldReader) else None
