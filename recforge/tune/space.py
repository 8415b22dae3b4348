"""Search spaces: YAML over dotted config keys, validated before any trial runs.

A space file maps dotted config keys to one distribution each::

    train.lr: {log_uniform: [1.0e-4, 1.0e-1]}
    train.batch_size: {choice: [1024, 2048, 4096]}
    model.embedding_dim: {int: [8, 32], step: 8}
    model.interaction.params.hidden_units: {choice: [[256, 256], [400, 400, 400]]}

Kinds: ``uniform: [low, high]``, ``log_uniform: [low, high]`` (both > 0), ``int: [low, high]``
(optional ``step``; ``log: true``), ``choice: [v1, v2, ...]`` (any YAML values). A trial's values
become dotted ``key=value`` overrides handed to :func:`recforge.core.config.load_config`, so a
space reaches every key a ``--set`` can and is checked by the same validation: every key is
tried with its lowest (or first) value before the search starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recforge.core.config import load_config, load_yaml
from recforge.core.errors import ConfigError

KINDS = ("uniform", "log_uniform", "int", "choice")
_OPTIONS = {"uniform": {"step"}, "log_uniform": set(), "int": {"step", "log"}, "choice": set()}


@dataclass(frozen=True)
class Param:
    """One searched key and its distribution."""

    key: str
    kind: str
    values: tuple[Any, ...]
    step: float | None = None
    log: bool = False

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial proposes for this key."""
        if self.kind == "choice":
            # Optuna stores categorical choices as plain scalars; complex values travel as JSON
            labels = [json.dumps(v) for v in self.values]
            return json.loads(trial.suggest_categorical(self.key, labels))
        low, high = self.values
        if self.kind == "int":
            return trial.suggest_int(self.key, int(low), int(high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(low), float(high), log=self.kind == "log_uniform",
                                   step=self.step)

    def first(self) -> Any:
        """The lowest (or first) value: used to validate the key before searching."""
        return self.values[0]

    def grid(self) -> list[Any]:
        """Every value, for the grid sampler (choices and integer ranges only)."""
        if self.kind == "choice":
            return [json.dumps(v) for v in self.values]
        if self.kind == "int":
            return list(range(int(self.values[0]), int(self.values[1]) + 1, int(self.step or 1)))
        raise ConfigError(f"search space key {self.key}: the grid sampler cannot enumerate a {self.kind} range",
                          fix="use {choice: [...]} or {int: [a, b]} for every key, or --sampler tpe|random")


def override(key: str, value: Any) -> str:
    """``key=value`` in the ``--set`` syntax (JSON is YAML, so lists and strings survive)."""
    return f"{key}={json.dumps(value)}"


@dataclass(frozen=True)
class SearchSpace:
    """The validated parameters of one space file (in file order)."""

    params: tuple[Param, ...]
    raw: dict[str, Any]

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {p.key: p.suggest(trial) for p in self.params}

    def grid(self) -> dict[str, list[Any]]:
        return {p.key: p.grid() for p in self.params}

    def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        """Optuna's stored params as config values (choices were stored as JSON text)."""
        kinds = {p.key: p.kind for p in self.params}
        return {k: json.loads(v) if kinds.get(k) == "choice" else v for k, v in params.items()}

    def check_against(self, config_path: Path, base_overrides: list[str]) -> None:
        """Apply every key's first value through ``load_config``: typos fail now, not in trial 7."""
        overrides = [*base_overrides, *(override(p.key, p.first()) for p in self.params)]
        load_config(config_path, overrides)  # validates every section, train included


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"search space key {key}: {value!r} is not a number", fix="write numbers, e.g. [1.0e-4, 1.0e-1]")
    return float(value)


def parse_param(key: str, spec: Any) -> Param:
    """One ``key: {kind: [...], ...}`` entry; anything malformed is a one-line error."""
    example = "e.g. train.lr: {log_uniform: [1.0e-4, 1.0e-1]}"
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"search space key {key!r} is not a dotted config key", fix=f"write {example}")
    if not isinstance(spec, dict):
        raise ConfigError(f"search space key {key}: {spec!r} is not a mapping", fix=f"write {example}")
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) != 1:
        raise ConfigError(f"search space key {key}: needs exactly one of {', '.join(KINDS)}", fix=f"write {example}")
    kind = kinds[0]
    extra = set(spec) - {kind} - _OPTIONS[kind]
    if extra:
        raise ConfigError(f"search space key {key}: unknown option {sorted(extra)[0]!r} for {kind}",
                          fix=f"{kind} takes {', '.join(sorted(_OPTIONS[kind])) or 'no options'}")
    values = spec[kind]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"search space key {key}: {kind} needs a non-empty list", fix=f"write {example}")
    if kind == "choice":
        return Param(key, kind, tuple(values))
    if len(values) != 2:
        raise ConfigError(f"search space key {key}: {kind} needs [low, high]", fix=f"write {example}")
    low, high = (_number(key, v) for v in values)
    if low >= high:
        raise ConfigError(f"search space key {key}: low {low:g} is not below high {high:g}", fix="swap or widen the bounds")
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"search space key {key}: log_uniform needs low > 0", fix="use uniform, or a positive low bound")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise ConfigError(f"search space key {key}: int bounds must be integers", fix="use uniform for real values")
    step = spec.get("step")
    if step is not None and _number(key, step) <= 0:
        raise ConfigError(f"search space key {key}: step must be positive", fix="drop step or make it > 0")
    return Param(key, kind, (low, high), None if step is None else float(step), bool(spec.get("log", False)))


def parse_space(raw: Any, source: str = "<space>") -> SearchSpace:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"search space {source} is empty or not a mapping",
                          fix="write one `dotted.key: {kind: [...]}` line per searched key")
    return SearchSpace(tuple(parse_param(k, v) for k, v in raw.items()), raw)


def load_space(path: Path) -> SearchSpace:
    """Read and validate a space file (its keys are checked against a config later)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read search space {path}: {type(err).__name__}", fix="pass a readable YAML file") from None
    try:
        raw = load_yaml(text)
    except Exception as err:  # yaml's errors are many classes; all mean "not YAML"
        raise ConfigError(f"search space {path} is not valid YAML ({type(err).__name__})", fix="fix the YAML syntax") from None
    return parse_space(raw, str(path))
