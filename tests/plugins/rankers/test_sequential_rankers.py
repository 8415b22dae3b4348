"""Next-item rankers (``popular``, ``sasrec``, ``gru4rec``): known answers on hand-made counts
and histories, the causal property of the sequence encoders, and short real trainings on the
Amazon Office next-purchase rows (id only, and text only for items never seen in training)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from recforge.core.data.prepare import prepare_data
from recforge.core.errors import ConfigError
from recforge.core.model import build_model
from recforge.core.ranking_eval import evaluate_rows
from recforge.plugins.rankers._sequential import next_item_targets
from recforge.plugins.rankers.popular import Popular, popularity_counts
from recforge.plugins.rankers.sasrec import SASRec

DATA = {"recipe": "amazon-seq", "params": {"category": "Office_Products"},
        "fields": [{"name": "item_text", "kind": "text", "role": "item", "template": "{title}. Brand: {brand}"}]}


@pytest.fixture(scope="module")
def prepared(datasets_dir):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECFORGE_DATA_DIR", str(datasets_dir))
        return prepare_data(DATA, use_cache=False)


def seq_config(ranker: str, **params) -> dict:
    return {"data": DATA, "model": {"embedding_dim": 16, "ranker": {"name": ranker, "params": params}},
            "train": {"epochs": 1, "batch_size": 256, "lr": 3e-3, "threads": 1},
            "eval": {"protocol": "rows", "metrics": ["recall@10"]}}


def test_popularity_counts_known_answer() -> None:
    items = torch.tensor([2, 3, 3])
    hist = torch.tensor([[4, 3, 0], [2, 0, 0], [5, 4, 2]])
    got = popularity_counts(items, hist, 6, window=0)
    assert got.tolist() == [0, 0, 3, 3, 2, 1]  # every item of every row
    only_items = popularity_counts(items, hist, 6, window=1)
    assert only_items.tolist() == [0, 0, 1, 2, 0, 0]
    # window 2: each row's item plus its most recent history item (3, 2, 2)
    assert popularity_counts(items, hist, 6, window=2).tolist() == [0, 0, 3, 3, 0, 0]


def test_popular_ranks_by_training_counts(prepared) -> None:
    model = build_model(seq_config("popular", window=1), prepared)
    assert isinstance(model, Popular)
    train = prepared.splits["train"].batch(torch.arange(prepared.splits["train"].num_rows))
    counts = Counter(train["item_id"].tolist())
    top = [i for i, _ in counts.most_common(20)]
    scores = model.score_rows({"item_id": torch.tensor([2, 3])})
    assert torch.equal(scores[0], scores[1])  # same list for every row
    for a, b in zip(top, top[1:]):
        assert (scores[0, a] >= scores[0, b]) == (counts[a] >= counts[b])
    assert scores[0, a] > scores[0, [i for i in range(2, scores.shape[1]) if i not in counts][0]]
    with pytest.raises(ConfigError, match="window"):
        build_model(seq_config("popular", window=-1), prepared)


def test_next_item_targets_shift_and_append() -> None:
    hist = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0], [0, 0, 0, 0]])
    got = next_item_targets(hist, torch.tensor([9, 10, 11]))
    assert got.tolist() == [[6, 7, 9, 0], [10, 0, 0, 0], [11, 0, 0, 0]]


@pytest.mark.parametrize("ranker", ["sasrec", "gru4rec"])
def test_future_items_do_not_change_earlier_outputs(prepared, ranker) -> None:
    torch.manual_seed(0)
    model = build_model(seq_config(ranker, dropout=0.0), prepared).eval()
    items = model.all_item_vectors().detach()
    hist = torch.tensor([[5, 6, 7, 8, 9, 10, 0, 0, 0, 0]])
    changed = hist.clone()
    changed[0, 3:6] = torch.tensor([40, 41, 42])
    with torch.no_grad():
        a, b = model.sequence_outputs(hist, items), model.sequence_outputs(changed, items)
    assert torch.allclose(a[0, :3], b[0, :3], atol=1e-6)  # positions 0..2 never see 3..5
    assert not torch.allclose(a[0, 3:6], b[0, 3:6])


def test_sasrec_rejects_bad_params(prepared) -> None:
    with pytest.raises(ConfigError, match="heads"):
        build_model(seq_config("sasrec", heads=3), prepared)
    with pytest.raises(ConfigError, match="loss"):
        build_model(seq_config("gru4rec", loss="bpr"), prepared)


@pytest.mark.slow
@pytest.mark.parametrize("ranker,loss", [("sasrec", "softmax"), ("gru4rec", "sampled")])
def test_short_training_learns_next_items(prepared, ranker, loss) -> None:
    from recforge.core.train import Trainer, TrainSettings

    torch.manual_seed(1)
    model = build_model(seq_config(ranker, loss=loss, num_negatives=200), prepared)
    before = evaluate_rows(model, prepared, "valid", metrics=["recall@10"])["recall@10"]
    Trainer(model, prepared.splits["train"], TrainSettings(epochs=3, batch_size=256, lr=3e-3, patience=0, threads=1), progress=False).fit()
    after = evaluate_rows(model, prepared, "valid", metrics=["recall@10"])["recall@10"]
    assert after > max(before, 0.02)  # random ranking of 3,459 items gives ~0.003


@pytest.mark.slow
def test_text_only_sasrec_ranks_items_never_seen_in_training(prepared) -> None:
    """UniSRec-style: items represented by text alone; a cold item gets a real, distinct vector."""
    from recforge.core.train import Trainer, TrainSettings

    cfg = seq_config("sasrec", item_fields=["item_text"])
    cfg["model"]["encoders"] = {"item_text": {"name": "text-hash", "params": {"buckets": 4096}}}
    torch.manual_seed(2)
    model = build_model(cfg, prepared)
    assert isinstance(model, SASRec) and list(model.features.encoders) == ["item_text"]
    Trainer(model, prepared.splits["train"], TrainSettings(epochs=2, batch_size=256, lr=3e-3, patience=0, threads=1), progress=False).fit()
    train = prepared.splits["train"].batch(torch.arange(prepared.splits["train"].num_rows))
    seen = set(train["item_id"].tolist()) | set(train["history"].reshape(-1).tolist())
    cold = [i for i in range(2, model.num_items) if i not in seen]
    assert cold, "the catalogue has items never seen in training"
    vecs = model.item_vectors()
    assert float(vecs[cold].norm(dim=1).min()) > 0
    texts = model.features.lookup_item__item_text[cold]
    assert len(texts.unique()) > 10  # distinct texts -> distinct vectors (equal texts share one)
    assert np.unique(vecs[cold].numpy().round(5), axis=0).shape[0] == len(texts.unique())
    assert evaluate_rows(model, prepared, "valid", metrics=["recall@10"])["recall@10"] > 0.01


@pytest.mark.parametrize("ranker", ["popular", "sasrec"])
def test_saved_model_scores_the_same_after_loading(prepared, tmp_path, ranker) -> None:
    from recforge.core.saved_model import load_model, save_model

    cfg = seq_config(ranker, **({"item_fields": ["item_id", "item_text"]} if ranker == "sasrec" else {}))
    if ranker == "sasrec":  # popular encodes no fields: model.encoders would be an error for it
        cfg["model"]["encoders"] = {"item_text": {"name": "text-hash", "params": {"buckets": 512}}}
    torch.manual_seed(3)
    model = build_model(cfg, prepared).eval()
    batch = prepared.splits["valid"].batch(torch.arange(8))
    with torch.no_grad():
        before = model.score_rows(batch)
    save_model(model, prepared, cfg, tmp_path / "m")
    loaded = load_model(tmp_path / "m").model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded.score_rows(batch), before, atol=1e-5)
