"""Lean MiniLM encoding: Rust tokenisation, exact-length batches without padding or mask."""

from __future__ import annotations

import pytest
import torch

from recforge.plugins.encoders.lm_backend import LMBackend

TEXTS = ["Toy Story (1995)", "GoldenEye (1995)", "Four Rooms (1995)", "Get Shorty (1995)",
         "Twelve Monkeys, also known as 12 Monkeys (1995)", "Toy Story (1995)", "Babe (1995)"]


@pytest.fixture(scope="module")
def lm() -> LMBackend:
    torch.set_num_threads(1)
    return LMBackend("", "mean", 128)


def test_tokenize_matches_the_transformers_wrapper_with_truncation(lm: LMBackend) -> None:
    short = LMBackend.__new__(LMBackend)
    short.__dict__.update(lm.__dict__)
    short._fast, short.max_length = None, 6
    expected = lm.tokenizer(TEXTS, truncation=True, max_length=6)["input_ids"]
    assert short.tokenize(TEXTS) == expected
    assert all(len(row) <= 6 for row in expected)
    assert lm.tokenize(TEXTS) == lm.tokenizer(TEXTS, truncation=True, max_length=128)["input_ids"]


def test_plan_batches_are_rectangles_covering_every_row_once(lm: LMBackend) -> None:
    ids = [[1] * n for n in (3, 5, 3, 7, 5, 3, 3, 3)]
    batches = lm.plan_batches(ids, batch_size=3, token_budget=10)
    assert sorted(i for b in batches for i in b) == list(range(len(ids)))
    for b in batches:
        assert len({len(ids[i]) for i in b}) == 1  # no padding anywhere
        assert len(b) <= 3 and len(b) * len(ids[b[0]]) <= 10 or len(b) == 1
    assert [len(ids[b[0]]) for b in batches] == sorted((len(ids[b[0]]) for b in batches), reverse=True)
    # length 3: five rows, at most 3 per batch -> 3 + 2; length 5: budget 10 -> 2; length 7: 1
    assert sorted(len(b) for b in batches) == [1, 2, 2, 3]


def test_unpadded_encoding_equals_padded_masked_mean_and_dedups(lm: LMBackend) -> None:
    enc = lm.tokenizer(TEXTS, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        hidden = lm.lm(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    expected = (hidden * mask).sum(1) / mask.sum(1)
    calls = lm.calls
    got = lm.encode(TEXTS, batch_size=2)
    assert torch.allclose(got, expected, atol=1e-4)
    assert torch.equal(got[0], got[5])  # the duplicate title is encoded once
    distinct_lengths = {len(r) for r in lm.tokenize(list(dict.fromkeys(TEXTS)))}
    assert lm.calls - calls >= len(distinct_lengths)
