"""The benchmark suites: each module exposes ``run(opts) -> SuiteOutput``.

Suites are looked up by name in :data:`SUITES` (imported lazily so that ``limit`` does not
pay for the peers' code and ``train`` does not import the scale generator).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import Result

SUITES = ("train", "limit", "recommend", "scale", "text", "serve", "distributed", "startup")


@dataclass
class Options:
    """The command line, parsed (see ``benchmarks/__main__.py`` for each flag's meaning)."""

    suite: str
    peers_python: str | None = None
    json: bool = False
    models: list[str] | None = None
    epochs: int | None = None
    rounds: int = 1
    threads: int = 2
    size: str = "full"
    max_steps: int = 200
    report: bool = True
    #: train suite (issue 18): seeds per library (each seed a run), the epoch cap every
    #: library gets under early stopping, recforge in float32 too, recforge configs per model
    seeds: int = 1
    max_epochs: int | None = None
    also_fp32: bool = False
    configs: dict[str, str] = field(default_factory=dict)
    peers: list[str] | None = None


@dataclass
class SuiteOutput:
    """What a suite returns: its rows, an optional markdown body for the report, and notes."""

    results: list[Result]
    tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def get_suite(name: str) -> Callable[[Any], SuiteOutput]:
    """The ``run`` function of suite ``name``."""
    from recforge.core.errors import unknown_name

    if name not in SUITES:
        raise unknown_name("benchmark suite", name, SUITES, fix=f"use one of {', '.join(SUITES)}")
    return importlib.import_module(f"benchmarks.suites.{name}").run  # type: ignore[no-any-return]
