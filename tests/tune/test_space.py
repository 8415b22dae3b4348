"""Search-space parsing and the values trials hand to the config loader."""

from __future__ import annotations

import optuna
import pytest

from recforge.core.config import parse_override
from recforge.core.errors import ConfigError
from recforge.tune.space import override, parse_space

SPACE = {
    "train.lr": {"log_uniform": [1.0e-4, 1.0e-1]},
    "train.weight_decay": {"uniform": [0.0, 1.0e-3], "step": 1.0e-4},
    "model.embedding_dim": {"int": [8, 32], "step": 8},
    "model.interaction.params.hidden_units": {"choice": [[256, 256], [400, 400, 400]]},
}


def test_trial_values_round_trip_through_dotted_overrides():
    space = parse_space(SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        values = space.suggest(study.ask())
        assert 1e-4 <= values["train.lr"] <= 1e-1 and values["model.embedding_dim"] in (8, 16, 24, 32)
        assert values["model.interaction.params.hidden_units"] in ([256, 256], [400, 400, 400])
        for key, value in values.items():
            parts, parsed = parse_override(override(key, value))
            assert ".".join(parts) == key and parsed == value
    trial = study.trials[0]
    assert space.decode(trial.params)["model.interaction.params.hidden_units"] in ([256, 256], [400, 400, 400])


def test_grid_enumerates_choices_and_integer_ranges():
    grid = parse_space({"model.embedding_dim": {"int": [8, 24], "step": 8}, "train.batch_size": {"choice": [512, 1024]}}).grid()
    assert grid == {"model.embedding_dim": [8, 16, 24], "train.batch_size": ["512", "1024"]}


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "is empty or not a mapping"),
    ({"train.lr": [0.1, 0.2]}, "is not a mapping"),
    ({"train..lr": {"uniform": [0, 1]}}, "is not a dotted config key"),
    ({"train.lr": {"uniform": [0.1, 0.01]}}, "low 0.1 is not below high 0.01"),
    ({"train.lr": {"uniform": ["a", 1]}}, "'a' is not a number"),
    ({"train.lr": {"uniform": [0, 1], "choice": [1]}}, "needs exactly one of"),
    ({"train.lr": {"choice": []}}, "choice needs a non-empty list"),
    ({"model.embedding_dim": {"int": [1.5, 4]}}, "int bounds must be integers"),
    ({"train.lr": {"uniform": [0, 1], "step": -1}}, "step must be positive"),
])
def test_malformed_specs_are_one_line_errors(raw, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_space(raw)
    assert "\n" not in str(err.value) and err.value.fix
