"""Run ids, name@stage, name/version and folders name the same model in every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from recforge.core.errors import NotFoundError
from recforge.core.store import Store
from recforge.services.model_refs import resolve_model_ref
from tests.serving.conftest import run_cli

pytestmark = pytest.mark.slow


def test_every_reference_form_and_unknown_ones(serve_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    with Store.open() as store:
        by_run = resolve_model_ref("1", store)
        folder = str(by_run.folder)
        assert resolve_model_ref("qs/1", store).folder == by_run.folder
        assert resolve_model_ref(folder, store).run_id == 1
        assert resolve_model_ref("qs@production", store).follows_stage
        for bad, words in (("nope@production", "is not a run id, a registered model"), ("qs/99", "version 99"),
                           ("a/b/c", "is not a run id"), ("qs@staging", "no version in stage 'staging'")):
            with pytest.raises(NotFoundError, match=words):
                resolve_model_ref(bad, store)
    proc = run_cli(serve_home, "recommend", "nope@production", "--user", "196", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "is not a run id" in proc.stderr
