"""Texts the model never saw are encoded with its own language model, never replaced.

A DeepFM with a text-lm title field is trained on synthetic rows, saved and loaded the way
``recforge predict`` loads it; rows with three new titles then get three different scores,
and the vectors behind them are exactly what encoding those titles at training time gives.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "core"))
from trainer_fixtures import (  # noqa: E402
    NEW_TITLES,
    SPECS,
    Prepared,
    ensure_components,
    make_frame,
    score_new_titles,
)

from recforge.core.components import PrepareContext  # noqa: E402
from recforge.core.data.featuremap import FeatureMap  # noqa: E402
from recforge.core.data.schema import FieldSpec  # noqa: E402
from recforge.core.errors import ConfigError  # noqa: E402
from recforge.core.experiment import train_on  # noqa: E402
from recforge.core.saved_model import load_model, save_model  # noqa: E402
from recforge.plugins.encoders.text_bank import TextBank  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    ensure_components()
    frame = make_frame(rows=600)
    specs = [*SPECS, FieldSpec("title", "text", role="item")]
    n = len(frame)
    fmap, train = FeatureMap.fit_transform(frame.iloc[: int(0.8 * n)].reset_index(drop=True), specs)
    splits = {"train": train, "valid": fmap.transform(frame.iloc[int(0.8 * n): int(0.9 * n)].reset_index(drop=True)),
              "test": fmap.transform(frame.iloc[int(0.9 * n):].reset_index(drop=True))}
    prepared = Prepared(fmap, dict(fmap.fields), "label", splits)
    config = {"data": {"recipe": "synthetic"},
              "model": {"embedding_dim": 8, "interaction": "deepfm", "ranker": "ctr",
                        "encoders": {"title": {"name": "text-lm", "params": {"dropout": 0.0}}}},
              "train": {"epochs": 1, "batch_size": 128, "lr": 0.01, "seed": 1, "checkpoint": False}}
    tmp = tmp_path_factory.mktemp("unseen")
    result = train_on(config, prepared, tmp / "run")
    return save_model(result.model, prepared, config, tmp / "model")


def test_three_new_titles_get_their_own_vectors_and_scores(saved: Path) -> None:
    loaded = load_model(saved)
    table, scores = score_new_titles(loaded)
    assert len(set(scores)) == 3, scores

    encoder = loaded.model.encoders["title"]
    field = loaded.data.featuremap.fields["title"]
    idx = table.dense["title"] if "title" in table.dense else table.batch(torch.arange(3))["title"]
    assert [field.texts[i] for i in idx.tolist()] == NEW_TITLES
    # what encoding these titles at training time gives: a bank built with them from the start
    fresh = TextBank(list(field.texts), encoder.params, "title", field.text_template)
    fresh.prepare(PrepareContext())
    assert torch.allclose(encoder.bank.bank[idx], fresh.bank[idx], atol=1e-6)
    assert not torch.allclose(encoder.bank.bank[idx[0]], encoder.bank.bank[idx[1]])


def test_new_text_is_refused_when_the_language_model_cannot_run(saved: Path, monkeypatch) -> None:
    loaded = load_model(saved)
    encoder = loaded.model.encoders["title"]
    encoder.bank.params = replace(encoder.bank.params, model="/nonexistent/model-folder")
    from recforge.plugins.encoders import lm_backend

    def unavailable(*args, **kwargs):
        raise OSError("no model files")

    monkeypatch.setattr(lm_backend, "shared_backend", unavailable)
    monkeypatch.setenv("RECFORGE_CACHE_DIR", str(saved.parent / "empty-cache"))
    field = loaded.data.featuremap.fields["title"]
    field.texts.append("A Title Nobody Encoded Before 12345")
    with pytest.raises(ConfigError, match="never saw"):
        encoder.bank(torch.tensor([len(field.texts) - 1]))
