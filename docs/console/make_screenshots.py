"""Regenerate the console screenshots in this folder from the real app (monospace SVG).

    python docs/console/make_screenshots.py

Fills a throw-away store with the real CLI (an LR and a DeepFM run on ml100k-ctr, an analysis
of the DeepFM run, a registered model, a 4-trial ``recforge tune`` study), starts a real
``recforge serve`` of the registered model and sends it requests, then drives the console at
160x45 with Textual's pilot and saves each screen with ``App.save_screenshot`` (SVG, the
terminal's own monospace grid). Needs RECFORGE_TASKS_DIR with the ml100k-ctr task; takes a
few minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from recforge.serving.process import ServeProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SIZE = (160, 45)


def fill_store(home: Path) -> dict[str, str]:
    from recforge.cli import cli

    env = {"RECFORGE_HOME": str(home)}
    space = {"train.lr": {"log_uniform": [1.0e-3, 1.0e-1]}, "model.embedding_dim": {"choice": [4, 8, 16]}}
    (home.parent / "space.yaml").write_text(json.dumps(space))  # JSON is YAML
    runner = CliRunner()
    configs = REPO / "examples" / "configs"
    fast = ["--set", "train.threads=1"]
    for args in (
        ["train", str(configs / "ml100k-ctr-lr.yaml"), "--set", "train.epochs=6", *fast],
        ["train", str(configs / "ml100k-ctr-deepfm.yaml"), "--set", "train.epochs=6", *fast],
        ["analyze", "2", "--repeats", "2", "--max-rows", "5000", "--sample", "30"],
        ["models", "register", "2", "ctr-deepfm", "--tag", "owner=ops"],
        ["models", "promote", "ctr-deepfm", "1", "staging"],
        ["tune", str(configs / "ml100k-ctr-lr.yaml"), "--space", str(home.parent / "space.yaml"), "--trials", "4",
         "--sampler", "random", "--pruner", "none", "--seed", "1", "--study", "lr-search", "--set", "train.epochs=3",
         *fast],
    ):
        result = runner.invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    os.environ.update(env)
    return env


async def shoot(out: Path) -> None:
    from recforge.console.app import RecforgeConsole
    from recforge.console.screens.train_launcher import TrainLauncherScreen
    from recforge.core.store import Store

    store = Store.open()
    app = RecforgeConsole(store=store, refresh_s=None)

    async def save(name: str) -> None:
        await pilot.pause(0.3)
        app.save_screenshot(f"{name}.svg", str(out))

    async with app.run_test(size=SIZE) as pilot:
        await save("runs")
        await pilot.press("enter")
        await save("run_detail")
        await pilot.press("6")
        await save("run_analysis")
        await pilot.press("escape", "space", "down", "space", "c")
        await save("compare")
        await pilot.press("escape")
        for key, name in (("2", "models"), ("3", "datasets"), ("4", "plugins"), ("5", "components")):
            await pilot.press(key)
            await save(name)
        await pilot.press("7")
        await save("studies")
        await pilot.press("8")
        await traffic_then_shoot(app, pilot, save)
        await pilot.press("question_mark")
        await save("help")
        await pilot.press("escape", "6")
        screen = app.screen
        assert isinstance(screen, TrainLauncherScreen)
        screen.load_text((REPO / "examples" / "configs" / "ml100k-ctr-deepfm.yaml").read_text())
        from textual.widgets import Input

        screen.query_one("#overrides", Input).value = "train.epochs=8 train.threads=1"
        await pilot.press("ctrl+l")
        for _ in range(600):  # until the second epoch is under way
            await pilot.pause(0.1)
            if "epoch 2/8" in str(screen.query_one("#train-status").render()):
                break
        await save("train")
        await pilot.press("ctrl+k")
        for _ in range(300):
            await pilot.pause(0.1)
            if screen.last_status == "interrupted":
                break
    store.close()


def start_server(port: int = 18765) -> ServeProcess:
    """``recforge serve ctr-deepfm@staging`` on 127.0.0.1 with some traffic; the console polls it."""
    import httpx

    server = ServeProcess("ctr-deepfm@staging", env={**os.environ, "PYTHONPATH": str(REPO)}, port=port)
    for user in range(1, 41):
        httpx.post(server.url + "/recommend", json={"user": str(user), "k": 10}, timeout=30)
        httpx.get(server.url + f"/similar/{user}", timeout=30)
    os.environ["RECFORGE_SERVE_URL"] = server.url
    return server


async def traffic_then_shoot(app: object, pilot: object, save: object) -> None:
    """Serving view: polls a second apart with requests in between, so the rate is real."""
    import httpx

    url = os.environ["RECFORGE_SERVE_URL"]
    async with httpx.AsyncClient() as client:
        for _ in range(4):
            for user in range(41, 61):
                await client.post(url + "/recommend", json={"user": str(user), "k": 10}, timeout=30)
            app.screen.action_poll()  # type: ignore[attr-defined]
            await app.workers.wait_for_complete()  # type: ignore[attr-defined]
    await save("serving")  # type: ignore[operator]


def main() -> None:
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        fill_store(Path(tmp) / "home")
        server = start_server()
        try:
            asyncio.run(shoot(HERE))
        finally:
            server.stop()
    for old in HERE.glob("*.png"):
        old.unlink()
    print(f"saved {len(list(HERE.glob('*.svg')))} SVG screenshots to {HERE}")


if __name__ == "__main__":
    main()
