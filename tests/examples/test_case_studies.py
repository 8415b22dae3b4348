"""Case studies (examples/ecommerce, examples/news): the recipe, the per-row ranking protocol,
the grouped news metrics (brute-force references) and each case's command end to end (tiny)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.news.grouped import grouped_ranking
from recforge.core.data import prepare_data
from recforge.core.errors import DataError
from recforge.core.ranking_eval import evaluate_rows

SEQ = Path("/work/shared/datasets/amazon-office-2018-seq")


def brute_grouped(labels, scores, groups, k):
    mrrs, ndcgs = [], []
    for g in dict.fromkeys(groups):
        idx = [i for i in range(len(groups)) if groups[i] == g]
        ys = [labels[i] for i in sorted(idx, key=lambda i: -scores[i])]
        if 0 < sum(ys) < len(ys):
            mrrs.append(sum(y / (r + 1) for r, y in enumerate(ys)) / sum(ys))
            dcg = sum(y / math.log2(r + 2) for r, y in enumerate(ys[:k]))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(int(sum(ys)), k)))
            ndcgs.append(dcg / idcg)
    return float(np.mean(mrrs)), float(np.mean(ndcgs))


def test_grouped_ranking_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = rng.random(200)
    groups = rng.integers(0, 15, 200)
    got = grouped_ranking(labels, scores, groups, ks=(5,))
    mrr, ndcg = brute_grouped(labels.tolist(), scores.tolist(), groups.tolist(), 5)
    assert got["mrr"] == pytest.approx(mrr) and got["ndcg@5"] == pytest.approx(ndcg)


def test_grouped_ranking_hand_computed() -> None:
    # group a: clicks at ranks 1 and 3 -> mrr (1 + 1/3) / 2; group b all clicks -> skipped
    got = grouped_ranking([1, 0, 1, 1, 1], [0.9, 0.5, 0.1, 0.3, 0.2], ["a", "a", "a", "b", "b"], ks=(2,))
    assert got["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert got["ndcg@2"] == pytest.approx(1.0 / (1 + 1 / math.log2(3)))


def test_amazon_seq_recipe_covers_the_catalogue() -> None:
    prepared = prepare_data({"recipe": "amazon-seq"}, use_cache=False)
    assert prepared.fields["item_id"].vocab_size == 3459 + 2  # every product, cold ones included
    assert prepared.splits["test"].num_rows == 4866
    assert prepared.splits["train"].num_rows + prepared.splits["valid"].num_rows == 4866
    test = prepared.splits["test"].batch(torch.arange(2))
    assert int((test["item_id"] >= 2).sum()) == 2
    # row 2 of test.csv: history [384, 289, 151, 809, 406, 227, 0, 0, 2432, 1595] -> item 1465
    raw = prepared.featuremap.raw_of("history", test["history"][1])
    assert [str(x) for x in raw if x is not None][:10] == ["384", "289", "151", "809", "406", "227", "0", "0", "2432", "1595"]
    assert prepared.featuremap.raw_of("item_id", test["item_id"][1:2]) == ["1465"]


def test_amazon_seq_valid_holds_out_whole_users() -> None:
    """A user's rows are windows of one sequence: valid users never appear in training."""
    by_users = prepare_data({"recipe": "amazon-seq"}, use_cache=False)
    train_users = set(by_users.featuremap.raw_of("user_id", by_users.splits["train"].dense["user_id"]))
    raw = by_users.splits["valid"].dense["user_id"]
    assert bool((raw == 1).all())  # every valid user is unknown to the training vocabulary
    by_rows = prepare_data({"recipe": "amazon-seq", "params": {"valid_by": "rows"}}, use_cache=False)
    assert by_rows.splits["valid"].num_rows == round(0.1 * 4866) and len(train_users) > 1000
    with pytest.raises(DataError, match="valid_by 'days'"):
        prepare_data({"recipe": "amazon-seq", "params": {"valid_by": "days"}}, use_cache=False)


def test_amazon_seq_bad_history_names_file_and_row(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "amazon-office-2018-seq"
    folder.mkdir()
    (folder / "items.json").write_text('{"0": {"title": "a"}, "1": {"title": "b"}}')
    (folder / "valid.csv").write_text("user_id,history_item_id,item_id\nu1,\"[0]\",1\nu2,\"[0, 7]\",1\n")
    (folder / "test.csv").write_text("user_id,history_item_id,item_id\nu1,\"[0]\",1\n")
    monkeypatch.setenv("RECFORGE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"valid.csv: history_item_id 7 at row 3 is not in items.json"):
        prepare_data({"recipe": "amazon-seq"}, use_cache=False)


class OracleRows:
    """Scores the row's own item highest except in every third row (ranked 3rd there)."""

    def __init__(self, n_items: int) -> None:
        self.n = n_items

    def score_rows(self, batch):
        items = batch["item_id"]
        scores = torch.zeros(items.shape[0], self.n)
        scores[:, 2:5] = torch.tensor([3.0, 2.0, 1.0])
        scores[torch.arange(items.shape[0]), items] = 10.0
        bad = torch.arange(items.shape[0]) % 3 == 0
        scores[bad, items[bad]] = 1.5
        return scores


def test_evaluate_rows_known_answer() -> None:
    prepared = prepare_data({"recipe": "amazon-seq"})
    table = prepared.splits["test"]
    items = table.batch(torch.arange(table.num_rows))["item_id"]
    n = prepared.fields["item_id"].vocab_size
    got = evaluate_rows(OracleRows(n), prepared, "test", metrics=["mrr@10", "recall@1"], batch_size=1000)
    # every third row (by position in each batch of 1000) scores its item 1.5, below items
    # 2, 3 (scores 3, 2) and above 4 (score 1): rank 3, or rank 2 when the item is itself 2 or 3
    pos = torch.arange(items.numel()) % 1000
    bad = pos % 3 == 0
    own = torch.tensor([3, 3, 2, 2, 3])[items.clamp(max=4)]
    rank = torch.where(bad, own, 1).float()
    assert got["recall@1"] == pytest.approx(float((~bad).float().mean()))
    assert got["mrr@10"] == pytest.approx(float((1 / rank).mean()), rel=1e-5)


@pytest.mark.slow
def test_ecommerce_command_end_to_end(capsys) -> None:
    from examples.ecommerce.run import main

    tables = main(["--seeds", "1", "--variants", "popular,two-tower-id,sasrec-id", "--ctr-categories", "Gift_Cards",
                   "--ctr-variants", "text-hash", "--set", "train.epochs=1", "--set", "train.max_steps=3"])
    captured = capsys.readouterr()
    out = captured.out
    assert "| variant | recall@10 | ndcg@10 | mrr@10 |" in out and "| variant | auc | logloss |" in out
    assert "two-tower-id | seed 2024 | epoch 1: loss" in captured.err  # the harness shows progress per epoch
    seq = tables[0].summary()
    assert set(seq) == {"popular", "two-tower-id", "sasrec-id"}
    assert all(0.0 <= seq[v][m][0] <= 1.0 for v in seq for m in ("recall@10", "ndcg@10", "mrr@10"))
    assert 0.0 <= tables[1].summary()["text-hash"]["auc"][0] <= 1.0
    from recforge.core.store import Store

    runs = Store.open().list_runs()
    assert sum(r.status == "finished" for r in runs) == 4  # every variant landed in the store


def test_ecommerce_configs_are_plain_train_configs() -> None:
    """Every case-study variant is a YAML file `recforge train` takes; none caps epochs below early stopping."""
    from examples.ecommerce.run import CONFIGS, CTR_VARIANTS, SEQ_VARIANTS
    from recforge.core.config import load_config

    files = sorted(CONFIGS.glob("*.yaml"))
    assert {f.stem for f in files} == {f"next-{v}" for v in SEQ_VARIANTS} | {f"ctr-{v}" for v in CTR_VARIANTS}
    for path in files:
        config = load_config(path, [])  # the typed config
        if config.model.ranker.name != "popular":  # popular is counted, not trained
            assert config.train.epochs >= 1000 and config.train.patience >= 3, path.name


@pytest.mark.slow
def test_news_command_end_to_end(capsys) -> None:
    from examples.news.run import main

    tables = main(["--seeds", "1", "--variants", "id-only,text-hash", "--set", "train.epochs=1",
                   "--set", "train.max_steps=3"])
    out = capsys.readouterr().out
    assert "| variant | auc | gauc | mrr | ndcg@5 | ndcg@10 |" in out
    row = tables[0].summary()["text-hash"]
    assert 0.0 <= row["mrr"][0] <= 1.0 and 0.0 <= row["ndcg@10"][0] <= 1.0
    from recforge.core.store import Store

    store = Store.open()
    run = store.list_runs(experiment="case-news-bing-news")[0]
    assert {"test.auc", "test.mrr", "test.ndcg@5"} <= set(store.latest_metrics(run.id))


@pytest.mark.slow
def test_news_mind_format(capsys) -> None:
    from examples.news.run import main

    tables = main(["--dataset", "mind", "--folder", "mind-format-sample", "--seeds", "1", "--variants", "text-hash",
                   "--set", "train.epochs=1", "--set", "train.max_steps=2"])
    assert "text-hash" in tables[0].summary()


def test_coldstart_spaces_give_both_variants_equal_effort() -> None:
    """The text twin's search space holds every key of the no-text space with the same
    distribution (plus the text's own), and each space loads against its config."""
    from examples.coldstart_tune import STUDIES
    from recforge.tune.space import load_space

    (plain_config, plain_path), (text_config, text_path) = STUDIES["no-text"], STUDIES["text"]
    plain, text = load_space(plain_path), load_space(text_path)
    shared = {p.key: p for p in text.params}
    assert all(shared.get(p.key) == p for p in plain.params)
    assert {k for k in shared if k not in {p.key for p in plain.params}} == {
        "model.encoders.item_id.params.align_weight", "model.encoders.item_id.params.hidden",
        "model.encoders.item_text.params.dropout"}
    for space, config in ((plain, plain_config), (text, text_config)):
        space.check_against(config, ["model.interaction={name: deepfm}"])


def test_coldstart_headroom_personal_neighbours_known_answer() -> None:
    """The user's debiased labels on the films nearest the query film, softmax-weighted by similarity."""
    import pandas as pd

    from examples.coldstart_headroom import personal_neighbours

    vectors = {1: np.array([1.0, 0.0]), 2: np.array([0.0, 1.0]), 3: np.array([0.6, 0.8]), 9: np.array([1.0, 0.0])}
    train = pd.DataFrame({"user_id": [7, 7, 7, 8], "item_id": [1, 2, 3, 1], "label": [1, 0, 0, 1]})
    rows = pd.DataFrame({"user_id": [7, 7, 5], "item_id": [9, 9, 9]})
    mean = 1 / 3  # user 7's mean label; debiased labels 2/3, -1/3, -1/3
    one = personal_neighbours(train, rows.iloc[:1], vectors, k=1, tau=0.1)
    assert one[0] == pytest.approx(1 - mean)  # nearest film to 9 is film 1, liked
    two = personal_neighbours(train, rows, vectors, k=2, tau=0.1)
    w = math.exp((0.6 - 1.0) / 0.1)  # film 3 at similarity 0.6 against film 1 at 1.0
    assert two[0] == pytest.approx(((1 - mean) + w * (0 - mean)) / (1 + w))
    assert two[2] == 0.0  # a user without training ratings gets no signal


def test_coldstart_headroom_oracle_offsets_fit_each_item() -> None:
    """The oracle's per-item offsets pull each item's mean prediction toward its own label rate."""
    from examples.coldstart_headroom import oracle_offsets

    items = np.repeat([1, 2], 200)
    labels = np.concatenate([np.ones(150), np.zeros(50), np.ones(50), np.zeros(150)])
    offsets = oracle_offsets(labels, np.zeros(400), items)
    assert offsets[0] > 0.8 and offsets[-1] < -0.8 and offsets[0] == pytest.approx(-offsets[-1])
