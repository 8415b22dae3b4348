"""Per-user and per-item feature encoding for rankers that score arbitrary (user, item) pairs.

MF's side features and the two towers encode the features of a user or an item from its id
alone: the fields' values per id are kept as lookup buffers (saved with the weights, so a saved
model needs no training data), and the fields' encoders come from the registry exactly as in
composed models (``model.encoders.<field>`` overrides the default encoder of the field kind).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.errors import ConfigError, unknown_name
from recforge.core.model import execution_order


class EntityFeatures(nn.Module):
    """Encoders of user-role and item-role fields plus the per-id lookups that feed them.

    Args:
        encoders: field name -> built encoder.
        roles: field name -> ``user`` or ``item``.
        lookups: ``lookup_<role>__<field>`` -> ``[ids, ...]`` value rows by id index.
    """

    def __init__(self, encoders: dict[str, nn.Module], roles: dict[str, str], lookups: dict[str, Tensor]) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.roles = dict(roles)
        for key, value in lookups.items():
            self.register_buffer(key, value)

    @classmethod
    def from_prepared(cls, prepared: Any, names: list[str], model_cfg: dict[str, Any], dim: int,
                      registry: Any = None) -> EntityFeatures:
        """Build encoders for ``names`` (user- or item-role fields) and their id lookups."""
        from recforge.core.model import build_encoders, feature_lookups, fields_of
        from recforge.core.registry import get_registry

        fields = fields_of(prepared)
        roles: dict[str, str] = {}
        for name in names:
            if name not in fields:
                raise unknown_name("feature field", name, fields, fix="name a field declared in data.fields")
            if fields[name].role not in ("user", "item"):
                raise ConfigError(
                    f"field '{name}' has role '{fields[name].role}'; only user or item fields can describe an id",
                    fix=f"give '{name}' role: user or role: item in data.fields, or leave it out",
                )
            roles[name] = fields[name].role
        if not names:
            return cls({}, {}, {})
        overrides = {k: v for k, v in dict(model_cfg.get("encoders") or {}).items() if k in names}
        encoders, _ = build_encoders({"fields": names, "encoders": overrides}, fields, dim, registry or get_registry())
        lookups: dict[str, Tensor] = {}
        from recforge.plugins.rankers._base import has_training_data

        if has_training_data(prepared):
            lookups = feature_lookups(prepared, names, prepared.user_field, prepared.item_field)
        else:  # loading a saved model: shapes come from the state dict
            lookups = {f"lookup_{roles[n]}__{n}": torch.zeros(0) for n in names}
        return cls(encoders, roles, lookups)

    def fields_of_role(self, role: str) -> list[str]:
        return [n for n in self.encoders if self.roles[n] == role]

    def encode(self, role: str, ids: Tensor) -> Tensor | None:
        """``[N, F, D]`` field vectors of the ``role`` entities ``ids`` (None: no such fields)."""
        names = self.fields_of_role(role)
        if not names:
            return None
        batch = {n: getattr(self, f"lookup_{role}__{n}")[ids] for n in names}
        return self._encode_in_order(names, batch)

    def encode_batch(self, role: str, batch: dict[str, Tensor]) -> Tensor | None:
        """``[B, F, D]`` field vectors of the ``role`` fields read from the batch's own columns
        (row queries: a row's history rather than the per-id lookup); None: no such fields."""
        names = self.fields_of_role(role)
        if not names:
            return None
        return self._encode_in_order(names, batch)

    def _encode_in_order(self, names: list[str], batch: dict[str, Tensor]) -> Tensor:
        """Run the encoders of ``names`` dependencies first (an ``id-text`` item id reads its text
        field's vector, wherever the config lists it) and stack the vectors in the listed order."""
        encoded: dict[str, Tensor] = {}
        for name in execution_order({n: self.encoders[n] for n in names}):
            encoded[name] = self.encoders[name](batch, encoded)
        return torch.cat([encoded[n] for n in names], dim=1)

    def prepare(self, context: Any) -> None:
        """Let encoders precompute (text encoders fill their vector banks)."""
        for enc in self.encoders.values():
            enc.prepare(context)
