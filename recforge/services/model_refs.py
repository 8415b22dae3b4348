"""One way to name a saved model everywhere: a run id, a registry reference or a folder.

``recforge serve|recommend|predict|similar|eval|analyze`` accept any of::

    12                   run 12's saved model
    movies@production    the version of registered model ``movies`` in stage production
    movies/3             version 3 of registered model ``movies``
    movies               the newest version of ``movies``
    path/to/model        a saved-model folder (``manifest.json`` inside)

:func:`resolve_model_ref` turns the text into a :class:`ModelRef` (which folder, which run,
which registered version) without loading weights, so a server can poll a stage reference
cheaply and reload only when the version behind it changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recforge.core.errors import ConfigError, NotFoundError

_VERSION = re.compile(r"^(?P<name>[^@/]+)/(?P<version>\d+)$")
_STAGE = re.compile(r"^(?P<name>[^@/]+)@(?P<stage>[A-Za-z_-]+)$")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model reference.

    Attributes:
        text: what the user typed.
        folder: the saved-model folder.
        run_id: the run that produced it (None for a folder outside the store).
        name, version, stage: the registered model version, when the reference named one.
    """

    text: str
    folder: Path
    run_id: int | None = None
    name: str | None = None
    version: int | None = None
    stage: str | None = None

    @property
    def label(self) -> str:
        """The version that answers, as responses name it (``movies/3``, ``run 12``, a folder)."""
        if self.name is not None:
            return f"{self.name}/{self.version}"
        if self.run_id is not None:
            return f"run {self.run_id}"
        return str(self.folder)

    @property
    def follows_stage(self) -> bool:
        """Whether the version behind this reference can change (``name@stage``)."""
        return self.stage is not None


def _run_folder(store: Any, run_id: int) -> Path:
    from recforge.core.analysis.run import model_folder

    return Path(model_folder(store, run_id))


def _unknown(text: str) -> NotFoundError:
    return NotFoundError(
        f"model '{text}' is not a run id, a registered model (name@stage, name/version) or a saved-model folder",
        fix="see `recforge runs list` and `recforge models list`, or pass the folder that holds manifest.json",
    )


def _folder_run(store: Any, folder: Path) -> int | None:
    """The run whose saved model ``folder`` is (``<run dir>/model``), if any."""
    parent = folder.resolve().parent
    if not parent.name.isdigit():
        return None
    try:
        if Path(store.run_dir(int(parent.name))).resolve() == parent:
            store.get_run(int(parent.name))
            return int(parent.name)
    except Exception:  # noqa: BLE001 - any store failure just means "not a run folder"
        return None
    return None


def resolve_model_ref(text: str, store: Any) -> ModelRef:
    """Resolve ``text`` against ``store`` (see the module docstring for the forms).

    Raises:
        NotFoundError: nothing of that name, version, stage, run or folder exists.
    """
    text = str(text).strip()
    if not text:
        raise ConfigError("no model given", fix="pass a run id, name@stage, name/version or a saved-model folder")
    if text.isdigit():
        run_id = int(text)
        store.get_run(run_id)  # unknown runs fail with the store's message
        return ModelRef(text, _run_folder(store, run_id), run_id=run_id)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise NotFoundError(f"folder '{text}' is not a saved model (no manifest.json)",
                                fix="pass the `model` folder inside a run directory")
        return ModelRef(text, path, run_id=_folder_run(store, path))
    stage = _STAGE.match(text)
    version = _VERSION.match(text)
    if stage is None and version is None and ("/" in text or "@" in text):
        raise _unknown(text)
    name = (stage or version).group("name") if (stage or version) else text
    if stage is not None:
        wanted = stage.group("stage")
        found = [m for m in store.list_models(name) if m.stage == wanted]
        if not found:
            if not store.list_models(name):
                raise _unknown(text)
            raise NotFoundError(f"model '{name}' has no version in stage '{wanted}'",
                                fix=f"promote one: recforge models promote {name} VERSION {wanted}")
        mv = found[-1]
    else:
        try:
            mv = store.get_model(name, int(version.group("version")) if version else None)
        except NotFoundError:
            if version is None:
                raise _unknown(text) from None
            raise
    if mv.run_id is None:
        raise NotFoundError(f"model {mv.name}/{mv.version} lost its run (deleted)",
                            fix="register another run's model")
    return ModelRef(text, _run_folder(store, mv.run_id), run_id=mv.run_id, name=mv.name, version=mv.version,
                    stage=stage.group("stage") if stage else None)


def open_model(text: str, store: Any = None) -> tuple[ModelRef, Any]:
    """Resolve ``text`` and load its saved model: ``(ModelRef, LoadedModel)``."""
    from recforge.core.saved_model import load_model
    from recforge.core.store import Store

    if store is None:
        with Store.open() as opened:
            return open_model(text, opened)
    ref = resolve_model_ref(text, store)
    return ref, load_model(ref.folder, store=store)


def resolve_run_id(text: str) -> int:
    """The run behind a reference, for commands that re-read the run's data (eval, analyze)."""
    from recforge.core.store import Store

    if str(text).strip().isdigit():  # as before: the command reports an unknown run itself
        return int(text)
    with Store.open() as store:
        ref = resolve_model_ref(text, store)
    if ref.run_id is None:
        raise ConfigError(f"model folder '{text}' belongs to no run of this store, so its data split is unknown",
                          fix="pass the run id or registered name of the run that trained it")
    return ref.run_id
