"""The conformance suite as pytest tests: one test per property, named after it.

Plugin authors write one line per component (the scaffold's test file does)::

    from recforge.testing import conformance_tests
    from my_plugin.layer import MyCross

    TestMyCross = conformance_tests(MyCross, params={"num_layers": 2}, bad_params=[{"num_layers": 0}])

and pytest shows ``TestMyCross::test_gradients``, ``TestMyCross::test_trains_better_than_chance``,
... each failing with ``[property] what is wrong``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recforge.core.components import Component
from recforge.testing.checks import TENSOR_CHECKS, UNIT_CHECKS
from recforge.testing.failure import ConformanceFailure
from recforge.testing.experiment import EXPERIMENT_CHECKS
from recforge.testing.probes import Subject

#: every property, in the order it runs
CHECKS: dict[str, Callable[[Subject], None]] = {**UNIT_CHECKS, **EXPERIMENT_CHECKS}


def applicable(subject: Subject) -> list[str]:
    """The properties that apply to the subject's kind (datasets have no tensors to probe)."""
    if subject.kind == "dataset":
        return [n for n in CHECKS if n not in TENSOR_CHECKS and n != "saved_model_round_trip"]
    return list(CHECKS)


def _subject(cls: type[Component], params: dict[str, Any] | None, bad_params: list[dict[str, Any]] | None,
             experiment: dict[str, dict[str, Any]] | None, min_auc: float | None) -> Subject:
    subject = Subject(cls, dict(params or {}), list(bad_params or []), dict(experiment or {}))
    if min_auc is not None:
        subject.min_auc = min_auc
    return subject


def check_component(cls: type[Component], params: dict[str, Any] | None = None, *,
                    bad_params: list[dict[str, Any]] | None = None,
                    experiment: dict[str, dict[str, Any]] | None = None, min_auc: float | None = None,
                    skip: dict[str, str] | None = None) -> list[str]:
    """Run every applicable property; raise one :class:`ConformanceFailure` listing the broken ones.

    Returns the names of the properties that passed.
    """
    subject = _subject(cls, params, bad_params, experiment, min_auc)
    passed, failures = [], []
    for name in applicable(subject):
        if name in (skip or {}):
            continue
        try:
            CHECKS[name](subject)
        except ConformanceFailure as err:
            failures.append(str(err))
        else:
            passed.append(name)
    if failures:
        raise ConformanceFailure("conformance", f"{subject.label} broke {len(failures)} "
                                 f"propert{'y' if len(failures) == 1 else 'ies'}: " + "; ".join(failures))
    return passed


def conformance_tests(cls: type[Component], params: dict[str, Any] | None = None, *,
                      bad_params: list[dict[str, Any]] | None = None,
                      experiment: dict[str, dict[str, Any]] | None = None, min_auc: float | None = None,
                      skip: dict[str, str] | None = None) -> type:
    """A pytest test class with one ``test_<property>`` per applicable conformance property.

    Args:
        cls: the component class.
        params: params to build it with (as in a config).
        bad_params: param dicts it must reject with a one-line RecforgeError.
        experiment: overrides merged into the tiny experiment config (``train``, ``model``).
        min_auc: valid-AUC bar of the tiny experiment (default 0.58; chance is 0.5).
        skip: property -> reason, for a property that cannot apply (shown as a pytest skip).
    """
    import pytest

    subject = _subject(cls, params, bad_params, experiment, min_auc)
    reasons = dict(skip or {})
    unknown = set(reasons) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown conformance properties in skip: {sorted(unknown)}; known: {sorted(CHECKS)}")

    def make_test(name: str) -> Callable[[Any], None]:
        def test(self: Any) -> None:
            if name in reasons:
                pytest.skip(reasons[name])
            CHECKS[name](subject)

        test.__name__ = f"test_{name}"
        test.__doc__ = CHECKS[name].__doc__
        return test

    body: dict[str, Any] = {"subject": subject, "__doc__": f"Conformance of {subject.label}."}
    for name in applicable(subject):
        body[f"test_{name}"] = make_test(name)
    return type(f"TestConformance_{cls.__name__}", (), body)
