"""The bad-input catalogue (``bad_input_cases.CASES``), one test per row.

Every case must end with a non-zero exit, exactly one ``error: <problem>; <fix>`` line on
stderr (its last line; only progress lines may come before it) containing the expected
fragment, no traceback, and the stored runs untouched (run
statuses and the row counts of params, metrics and artifacts read straight from SQLite).
"""

from __future__ import annotations

import pytest
from bad_input_cases import Case
from hostile_input_cases import ALL_CASES as CASES
from reliability_kit import Workspace, error_line, run_cli, store_snapshot


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def test_catalogue_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.area for c in CASES} == {"cli", "config", "data", "store", "model", "plugin"}


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case: Case, workspace: Workspace) -> None:
    argv = case.argv(workspace)
    before = store_snapshot(workspace.home)
    code, out, err = run_cli(*argv)
    after = store_snapshot(workspace.home)
    assert "Traceback" not in err + out, err
    line = error_line(err)
    assert "unexpected" not in line and "report it" not in line, line  # the last-resort handler means an unmapped exception
    assert case.expect.lower() in line.lower(), line
    assert "; " in line, f"no fix after the problem: {line}"
    assert code == case.exit_code, (code, line)
    assert before == after, "stored runs changed"


def test_catalogue_doc_is_current() -> None:
    """docs/reliability.md is generated from CASES; regenerate it with make_catalogue.py."""
    import make_catalogue

    assert make_catalogue.DOC.read_text(encoding="utf-8") == make_catalogue.render(), \
        "run `python tests/reliability/make_catalogue.py`"
