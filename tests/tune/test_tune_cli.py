"""`recforge tune` and `recforge studies` through the real CLI on real stores (SQLite, PostgreSQL).

Trials train the synthetic FM of tests/cli for a few epochs; worker processes are real
subprocesses sharing the study through the database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_cli_train import write_config  # noqa: E402

from recforge.cli import cli  # noqa: E402
from recforge.core.config import load_config  # noqa: E402
from recforge.core.store import Store  # noqa: E402

SPACE = {"train.lr": {"log_uniform": [1.0e-5, 1.0e-1]}, "model.embedding_dim": {"choice": [4, 8]}}


def write_space(tmp_path: Path, space: object = None) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE if space is None else space))
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def last_json(output: str) -> object:
    start = 0 if output.startswith(("{", "[")) else min(i for i in (output.rfind("\n{"), output.rfind("\n["))
                                                        if i >= 0) + 1
    return json.loads(output[start:])


@pytest.mark.parametrize(("space", "args", "message"), [
    ({"train.lr": {"log_uniform": [0.0, 0.1]}}, [], "search space key train.lr: log_uniform needs low > 0"),
    ({"train.lr": {"int": [1, 4], "foo": 2}}, [], "unknown option 'foo' for int"),
    ({"train.lrr": {"uniform": [0.01, 0.1]}}, [], "unknown key in config section 'train' 'lrr'"),
    ({"train.lr": {"uniform": [0.01, 0.1]}}, ["--metric", "test.auc"], "--metric 'test.auc' is not a validation metric"),
    ({"train.lr": {"uniform": [0.01, 0.1]}}, ["--sampler", "grid"], "the grid sampler cannot enumerate a uniform range"),
])
def test_bad_spaces_and_options_fail_in_one_line(tmp_path, space, args, message):
    result = CliRunner().invoke(
        cli, ["tune", str(write_config(tmp_path)), "--space", str(write_space(tmp_path, space)), "--trials", "2", *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    with Store.open() as store:  # nothing was created or trained
        assert store.list_runs() == []


@pytest.mark.slow
def test_tune_records_trials_as_runs_prunes_resumes_and_exports(tmp_path):
    config = write_config(tmp_path, epochs=4)
    space = write_space(tmp_path)
    code, out = invoke("tune", str(config), "--space", str(space), "--trials", "5", "--sampler", "random",
                       "--seed", "3", "--study", "s1", "--json")
    assert code == 0, out
    doc = last_json(out)
    states = [t["state"] for t in doc["trials"]]
    assert [t["number"] for t in doc["trials"]] == [0, 1, 2, 3, 4]
    assert doc["counts"]["pruned"] >= 1 and doc["counts"]["complete"] >= 2 and doc["counts"]["failed"] == 0, states
    with Store.open() as store:
        for trial in doc["trials"]:
            run = store.get_run(trial["run_id"])
            assert run.name == f"s1 #{trial['number']}"
            assert run.config["train"]["lr"] == pytest.approx(trial["params"]["train.lr"])
            if trial["state"] == "pruned":
                assert run.status == "pruned" and run.error.startswith("pruned by study s1 at epoch")
                # a pruned trial's value is its last reported epoch's valid AUC
                last = max((m for m in run.metrics if m.key == "valid.auc"), key=lambda m: m.step)
                assert trial["value"] == pytest.approx(last.value)
            else:
                assert run.status == "finished"
                # a complete trial's value is the best epoch's valid AUC (the trainer's monitor)
                assert trial["value"] == pytest.approx(max(m.value for m in run.metrics if m.key == "valid.auc"))
        best = max((t for t in doc["trials"] if t["state"] == "complete"), key=lambda t: t["value"])
        assert doc["best"]["number"] == best["number"]
        artifacts = {Path(a.path).name for a in store.get_run(best["run_id"]).artifacts if a.kind == "study_plot"}
    assert artifacts == {"history.png", "importances.png"}
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in doc["plots"])

    # the same study continues: one more trial to reach 6, numbered 5
    code, out = invoke("tune", "--study", "s1", "--trials", "6", "--json")
    assert code == 0, out
    assert [t["number"] for t in last_json(out)["trials"]] == [0, 1, 2, 3, 4, 5]
    code, out = invoke("tune", str(config), "--space", str(space), "--study", "s1", "--trials", "6",
                       "--set", "train.epochs=3")
    assert code == 1 and "config differs from the one study 's1' was created with" in out

    code, out = invoke("studies", "list", "--json")
    listed = last_json(out)
    assert [s["study"] for s in listed] == ["s1"] and listed[0]["counts"]["complete"] + listed[0]["counts"]["pruned"] == 6
    code, out = invoke("studies", "best", "s1", "--json")
    best_doc = last_json(out)
    target = tmp_path / "best.yaml"
    code, out = invoke("studies", "export", "s1", "-o", str(target))
    assert code == 0, out
    header = [line for line in target.read_text().splitlines() if line.startswith("#")]
    assert f"trial: {best_doc['number']} (run {best_doc['run_id']})" in header[1]
    assert f"valid.auc: {best_doc['value']:.4f}" in header[1] and header[2].startswith("# date: ")
    with Store.open() as store:
        assert load_config(target).to_dict() == store.get_run(best_doc["run_id"]).config
    code, out = invoke("studies", "show", "nope")
    assert code == 1 and "study 'nope' does not exist" in out


def _tune_with_two_jobs(tmp_path: Path, env: dict[str, str]) -> dict:
    config = write_config(tmp_path, epochs=1)
    space = write_space(tmp_path, {"train.lr": {"log_uniform": [1.0e-3, 1.0e-1]}})
    done = subprocess.run([sys.executable, "-m", "recforge", "tune", str(config), "--space", str(space),
                           "--trials", "2", "--jobs", "2", "--pruner", "none", "--json"],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return last_json(done.stdout)


def _assert_shared_study(doc: dict) -> None:
    trials = doc["trials"]
    assert [t["number"] for t in trials] == [0, 1] and doc["counts"]["complete"] == 2
    assert len({t["run_id"] for t in trials}) == 2  # every trial trained exactly one run
    assert len({t["worker"] for t in trials}) == 2  # by two processes
    with Store.open() as store:  # the store may hold other tests' runs (one PostgreSQL database per session)
        assert len([r for r in store.list_runs() if r.name.startswith(f"{doc['study']} #")]) == 2


@pytest.mark.slow
def test_two_jobs_share_a_study_on_sqlite(tmp_path):
    _assert_shared_study(_tune_with_two_jobs(tmp_path, dict(os.environ)))
    assert (Path(os.environ["RECFORGE_HOME"]) / "recforge.optuna.db").is_file()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_jobs_share_a_study_on_postgres(tmp_path, postgres_url, monkeypatch):
    monkeypatch.setenv("RECFORGE_DB", postgres_url)
    _assert_shared_study(_tune_with_two_jobs(tmp_path, dict(os.environ)))
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.connect() as conn:  # Optuna's tables live in their own schema, beside the store's
        count = conn.execute(text("SELECT count(*) FROM optuna.trials")).scalar()
    engine.dispose()
    assert count == 2


@pytest.mark.slow
def test_ctrl_c_leaves_the_study_resumable(tmp_path):
    config = write_config(tmp_path, epochs=40)
    space = write_space(tmp_path, {"train.lr": {"log_uniform": [1.0e-3, 1.0e-2]}})
    proc = subprocess.Popen([sys.executable, "-m", "recforge", "tune", str(config), "--space", str(space),
                             "--trials", "2", "--study", "cut", "--pruner", "none"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    with Store.open() as store:  # wait until the first trial is training, then Ctrl-C
        while not any(m.key == "valid.auc" for r in store.list_runs() for m in r.metrics):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    with Store.open() as store:
        assert [r.status for r in store.list_runs()] == ["interrupted"]
    code, out = invoke("studies", "show", "cut", "--json")
    assert [t["state"] for t in last_json(out)["trials"]] == ["failed"]
    code, out = invoke("tune", "--study", "cut", "--trials", "2", "--set", "train.epochs=5", "--json")
    assert code == 1  # resuming cannot change the config ...
    code, out = invoke("tune", "--study", "cut", "--trials", "1", "--json")  # ... the study's own one continues
    assert code == 0, out
    assert [t["state"] for t in last_json(out)["trials"]] == ["failed", "complete"]


@pytest.mark.slow
def test_a_killed_worker_leaves_the_study_resumable(tmp_path, monkeypatch):
    """SIGKILL mid-trial: once the trial's heartbeat is older than the grace period, the next
    worker marks it failed and runs the study to its target."""
    monkeypatch.setenv("RECFORGE_TUNE_HEARTBEAT_S", "1")  # grace period 6 s
    config = write_config(tmp_path, epochs=40)
    space = write_space(tmp_path, {"train.lr": {"log_uniform": [1.0e-3, 1.0e-2]}})
    proc = subprocess.Popen([sys.executable, "-m", "recforge", "tune", str(config), "--space", str(space),
                             "--trials", "1", "--study", "killed", "--pruner", "none"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.monotonic() + 120
    with Store.open() as store:
        while not any(m.key == "valid.auc" for r in store.list_runs() for m in r.metrics):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    time.sleep(7)
    code, out = invoke("tune", "--study", "killed", "--trials", "1", "--json")
    assert code == 0, out
    trials = last_json(out)["trials"]
    assert [t["state"] for t in trials] == ["failed", "complete"] and trials[0]["run_id"] is None
