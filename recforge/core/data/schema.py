"""Field declarations (what the config or a recipe says) and fitted field info (what encoders get).

Index conventions for every vocabulary (categorical, multi_categorical, sequence, text):
``0`` is padding, ``1`` is unknown / out-of-vocabulary, known values start at ``2``.

Batch layout (a ``dict[str, torch.Tensor]`` keyed by field name), per field kind:

==================  =====================  ==================================================
kind                tensor                 meaning
==================  =====================  ==================================================
categorical         int64 ``[B]``          vocabulary index
numeric             float32 ``[B]``        normalised value (or int64 bucket when bucketised)
multi_categorical   int64 ``[B, L]``       indices, padded with 0 to the field's ``max_len``
sequence            int64 ``[B, L]``       ordered history (most recent last), 0-padded
text                int64 ``[B]``          index into ``FieldInfo.texts``
vector              float32 ``[B, d]``     precomputed vector
label               float32 ``[B]``        target (0/1 for CTR, rating value for regression)
==================  =====================  ==================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FIELD_KINDS: tuple[str, ...] = (
    "categorical",
    "numeric",
    "multi_categorical",
    "sequence",
    "text",
    "vector",
    "label",
)
ROLES: tuple[str, ...] = ("user", "item", "context", "label")
PAD, UNK, FIRST = 0, 1, 2


@dataclass
class FieldSpec:
    """A field as declared in a config or by a recipe (before fitting).

    Args:
        name: column name in the frames (and the key in batches).
        kind: one of :data:`FIELD_KINDS`.
        role: one of :data:`ROLES` (``label`` for the target).
        source: raw column to read when it differs from ``name``.
        sep: separator of multi-valued / sequence strings (e.g. ``|``).
        max_len: pad/truncate multi-valued and sequence fields to this length.
        min_count: values seen fewer times in train map to the unknown index.
        vocab_from: share the vocabulary (and embedding table) of another field, e.g. a
            click-history ``sequence`` field using ``item_id``'s vocabulary.
        hash_buckets: hashing mode for huge vocabularies (0 = exact vocabulary).
        normalize: numeric fields: ``standard``, ``minmax``, ``log`` or ``none``.
        buckets: numeric fields: number of quantile buckets (0 = keep continuous).
        template: text fields: a format string over other columns, e.g.
            ``"{title}. Genres: {genres}"``, to build the text.
        dim: vector fields: vector length (inferred when 0).
    """

    name: str
    kind: str
    role: str = "context"
    source: str | None = None
    sep: str | None = None
    max_len: int = 0
    min_count: int = 1
    vocab_from: str | None = None
    hash_buckets: int = 0
    normalize: str = "standard"
    buckets: int = 0
    template: str | None = None
    dim: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FieldInfo:
    """A fitted field: everything an encoder needs to build itself, saved with the model.

    Args:
        name / kind / role: as in :class:`FieldSpec`.
        vocab_size: rows of the embedding table (padding and unknown included).
        vocab_key: name of the vocabulary (shared-table key; the field's own name unless
            ``vocab_from`` is set).
        max_len: length L of multi-valued / sequence tensors.
        vector_dim: length of vector fields.
        num_buckets: numeric fields that were bucketised (0 = continuous).
        texts: text fields: the distinct texts, indexed by the batch's text index
            (index 0 = empty text, 1 = unknown).
        text_template: text fields: the template the texts were built with (part of the
            text-vector cache key).
        spec: the original declaration.
    """

    name: str
    kind: str
    role: str
    vocab_size: int = 0
    vocab_key: str = ""
    max_len: int = 0
    vector_dim: int = 0
    num_buckets: int = 0
    texts: list[str] = field(default_factory=list)
    text_template: str | None = None
    spec: FieldSpec | None = None


# --------------------------------------------------------------------------- declarations

NORMALIZERS: tuple[str, ...] = ("standard", "minmax", "log", "none")
#: kinds whose values are looked up in a vocabulary (and so have ``vocab_size``)
VOCAB_KINDS: tuple[str, ...] = ("categorical", "multi_categorical", "sequence")
#: kinds stored as ragged values + offsets in a TensorTable
RAGGED_KINDS: tuple[str, ...] = ("multi_categorical", "sequence")


def field_spec_from_dict(raw: dict[str, Any] | FieldSpec, where: str = "data.fields") -> FieldSpec:
    """Validate one field declaration (a config mapping) into a :class:`FieldSpec`.

    Unknown keys, kinds, roles and normalisers fail with a one-line message, because a typo in
    a schema otherwise surfaces much later as a confusing model error.
    """
    from recforge.core.errors import ConfigError, unknown_name

    if isinstance(raw, FieldSpec):
        spec = raw
    else:
        if not isinstance(raw, dict) or "name" not in raw or "kind" not in raw:
            raise ConfigError(
                f"{where}: field declaration {raw!r} needs at least 'name' and 'kind'",
                fix="write e.g. {name: user_id, kind: categorical, role: user}",
            )
        known = set(FieldSpec.__dataclass_fields__)
        for key in raw:
            if key not in known:
                raise unknown_name(f"key in field '{raw['name']}'", key, known, fix="fix the key name")
        spec = FieldSpec(**raw)
    if spec.kind not in FIELD_KINDS:
        raise unknown_name(
            f"field kind for field '{spec.name}'", str(spec.kind), FIELD_KINDS,
            fix=f"use one of {', '.join(FIELD_KINDS)}",
        )
    if spec.kind == "label":
        spec.role = "label"
    if spec.role not in ROLES:
        raise unknown_name(f"role for field '{spec.name}'", str(spec.role), ROLES, fix=f"use one of {', '.join(ROLES)}")
    if spec.normalize not in NORMALIZERS:
        raise unknown_name(
            f"normalize for field '{spec.name}'", str(spec.normalize), NORMALIZERS,
            fix=f"use one of {', '.join(NORMALIZERS)}",
        )
    for attr in ("max_len", "min_count", "hash_buckets", "buckets", "dim"):
        if int(getattr(spec, attr)) < 0:
            raise ConfigError(f"field '{spec.name}': {attr} is negative", fix=f"give {attr} >= 0")
    return spec


def field_info_to_dict(info: FieldInfo) -> dict[str, Any]:
    """JSON-ready view of a fitted field (FeatureMap files, saved models)."""
    data = asdict(info)
    data["spec"] = info.spec.to_dict() if info.spec is not None else None
    return data


def field_info_from_dict(data: dict[str, Any]) -> FieldInfo:
    """Inverse of :func:`field_info_to_dict`."""
    data = dict(data)
    spec = data.pop("spec", None)
    return FieldInfo(**data, spec=FieldSpec(**spec) if spec else None)
