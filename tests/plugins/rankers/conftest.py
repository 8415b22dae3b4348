"""A tiny hand-built PreparedData for the ranker tests, plus a registry with the id encoders."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType, SimpleNamespace

import pytest
import torch

from recforge.core.data.schema import FieldInfo
from recforge.core.data.table import TensorTable
from recforge.core.hookspecs import hookimpl
from recforge.core.registry import get_registry

# (user, item, label) rows; users 2..5, items 2..7 (0 = padding, 1 = unknown)
TRAIN = [(2, 2, 1), (2, 3, 0), (2, 4, 1), (3, 3, 1), (3, 5, 1), (4, 2, 1), (4, 6, 0), (5, 7, 1), (5, 4, 1), (4, 5, 1)]
TEST = [(2, 5, 1), (3, 2, 1), (4, 7, 1), (5, 3, 0)]
AGE = {2: 2, 3: 3, 4: 2, 5: 3}  # user-role categorical (vocab 4)
GENRE = {2: 2, 3: 2, 4: 3, 5: 3, 6: 2, 7: 3}  # item-role categorical (vocab 4)
TEXT = {i: i for i in range(2, 8)}  # item text index = item index


def _table(rows: list[tuple[int, int, int]]) -> TensorTable:
    u = torch.tensor([r[0] for r in rows])
    i = torch.tensor([r[1] for r in rows])
    return TensorTable({
        "user_id": u, "item_id": i, "label": torch.tensor([float(r[2]) for r in rows]),
        "age": torch.tensor([AGE[x] for x in u.tolist()]),
        "genre": torch.tensor([GENRE[x] for x in i.tolist()]),
        "item_text": torch.tensor([TEXT[x] for x in i.tolist()]),
    })


def make_prepared() -> SimpleNamespace:
    texts = ["", "<unk>", "toy story", "heat", "casino", "sabrina", "jumanji", "balto"]
    return SimpleNamespace(
        user_field="user_id", item_field="item_id", label="label", items=None,
        fields={
            "user_id": FieldInfo("user_id", "categorical", "user", vocab_size=6, vocab_key="user_id"),
            "item_id": FieldInfo("item_id", "categorical", "item", vocab_size=8, vocab_key="item_id"),
            "age": FieldInfo("age", "categorical", "user", vocab_size=4, vocab_key="age"),
            "genre": FieldInfo("genre", "categorical", "item", vocab_size=4, vocab_key="genre"),
            "item_text": FieldInfo("item_text", "text", "item", texts=texts, text_template="{title}"),
            "label": FieldInfo("label", "label", "label"),
        },
        splits={"train": _table(TRAIN), "test": _table(TEST)},
    )


@pytest.fixture
def prepared() -> SimpleNamespace:
    return make_prepared()


@pytest.fixture
def with_encoders() -> Iterator[None]:
    """Make sure the categorical encoder is registered (the encoders plugin may still be growing)."""
    reg = get_registry()
    if reg.has("categorical", "encoder"):
        yield
        return
    from recforge.plugins.encoders.categorical import CategoricalEncoder

    module = ModuleType("test_ranker_encoders")

    @hookimpl
    def register_encoders(register):  # type: ignore[no-untyped-def]
        register(CategoricalEncoder)

    module.register_encoders = register_encoders  # type: ignore[attr-defined]
    reg.register_module(module, name="test_ranker_encoders")
    yield
    reg.unregister("test_ranker_encoders")


def _missing_grads(model: torch.nn.Module, loss: torch.Tensor) -> list[str]:
    model.zero_grad()
    loss.backward()
    return [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]


@pytest.fixture
def missing_grads():  # type: ignore[no-untyped-def]
    """``f(model, loss)`` -> names of trainable parameters that get no (or an all-zero) gradient."""
    return _missing_grads
