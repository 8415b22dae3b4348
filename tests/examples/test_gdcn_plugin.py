"""The second example plugin (examples/plugins/recforge-gdcn) passes the conformance suite.

Imported from its folder (no install); its own known-answer tests run with
``pytest examples/plugins/recforge-gdcn``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recforge.testing import CHECKS, check_component
from recforge.testing.probes import Subject

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "recforge-gdcn"
SMALL = {"hidden_units": [32, 32]}
BAD = [{"num_cross_layers": 0}, {"hidden_units": []}, {"dropout": 1.5}, {"activation": "rleu"}]


@pytest.fixture
def gdcn_cls(monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.syspath_prepend(str(PLUGIN))
    from gdcn.component import GDCN

    return GDCN


@pytest.mark.parametrize("structure", ["parallel", "stacked"])
def test_gdcn_unit_properties(gdcn_cls: type, structure: str) -> None:
    skip = {"saved_model_round_trip": "slow test below", "trains_better_than_chance": "slow test below"}
    passed = check_component(gdcn_cls, {**SMALL, "structure": structure}, bad_params=BAD, skip=skip)
    assert len(passed) == len(CHECKS) - 2


@pytest.mark.slow
def test_gdcn_in_a_tiny_experiment(gdcn_cls: type) -> None:
    for name in ("saved_model_round_trip", "trains_better_than_chance"):
        CHECKS[name](Subject(gdcn_cls, SMALL))
