"""``recforge models register|list|promote`` through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.store import Store


def _finished_run() -> int:
    with Store.open() as store:
        run = store.create_run("e", plugins={})
        store.start_run(run.id)
        store.finish_run(run.id)
        return run.id


def _ok(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_register_list_promote() -> None:
    run_id = _finished_run()
    assert "registered ctr version 1 from run 1" in _ok("models", "register", str(run_id), "ctr", "--tag", "team=a")
    assert json.loads(_ok("models", "register", str(run_id), "ctr", "--json"))["version"] == 2
    assert "ctr version 1 is now production" in _ok("models", "promote", "ctr", "1", "production")
    _ok("models", "promote", "ctr", "2", "production")
    listed = json.loads(_ok("models", "list", "--json"))
    assert [(m["version"], m["stage"], m["tags"]) for m in listed] == [(1, "archived", {"team": "a"}), (2, "production", {})]
    assert "ctr" in _ok("models", "list")


def test_errors_are_one_line() -> None:
    run_id = _finished_run()
    cases = {
        ("models", "register", "9", "m"): "error: run 9 does not exist; see `recforge runs list`",
        ("models", "register", str(run_id), "m", "--tag", "oops"): "error: tag 'oops' is not KEY=VALUE; write tags as --tag key=value",
        ("models", "promote", "m", "1", "staging"): "error: model 'm' version 1 is not registered; see `recforge models list`",
    }
    for args, message in cases.items():
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 1 and result.stderr.strip() == message
    bad_stage = CliRunner().invoke(cli, ["models", "promote", "m", "1", "live"])
    assert bad_stage.exit_code == 2 and "live" in bad_stage.stderr
