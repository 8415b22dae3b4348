"""LoRA adapters on a language model's attention projections (``peft``, the ``lora`` extra).

LoRA freezes every weight of the model and learns a low-rank update ``B @ A`` beside the
query and value projections of chosen transformer layers: a few thousand parameters per
layer instead of millions, so fine-tuning fits small data without forgetting the pretrained
model. ``peft`` is imported only here, and only when ``mode: lora`` is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from recforge.core.errors import ConfigError

#: leaf names of the attention query / value projections across model families
#: (BERT-style ``query``/``value``, LLaMA/BART-style ``q_proj``/``v_proj``, DistilBERT ``q_lin``/``v_lin``)
LORA_TARGETS = ("query", "value", "q_proj", "v_proj", "q_lin", "v_lin")


@dataclass(frozen=True)
class LoraSettings:
    """The adapters' shape.

    Args:
        rank: rank ``r`` of each update ``B @ A``.
        alpha: scale numerator (the update is multiplied by ``alpha / rank``).
        dropout: dropout on the adapters' input.
    """

    rank: int
    alpha: float
    dropout: float


def _import_peft():
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError:
        raise ConfigError("text-lm mode: lora needs the 'peft' package, which is not installed",
                          fix="pip install 'recforge[lora]'") from None
    return LoraConfig, inject_adapter_in_model


def lora_targets(model: nn.Module, layers: nn.ModuleList, indices: Sequence[int]) -> list[str]:
    """Full module names of the query/value projections inside ``layers[i]`` for each index."""
    chosen = {id(layers[i]) for i in indices}
    names: list[str] = []
    for layer_name, layer in model.named_modules():
        if id(layer) not in chosen:
            continue
        for sub_name, module in layer.named_modules():
            if isinstance(module, nn.Linear) and sub_name.rsplit(".", 1)[-1] in LORA_TARGETS:
                names.append(f"{layer_name}.{sub_name}")
    return names


def add_lora(model: nn.Module, layers: nn.ModuleList, indices: Sequence[int], settings: LoraSettings) -> list[nn.Parameter]:
    """Inject LoRA adapters into the attention projections of ``layers[indices]`` (in place)
    and freeze everything else; return the adapter parameters (the only trainable ones)."""
    LoraConfig, inject_adapter_in_model = _import_peft()
    targets = lora_targets(model, layers, indices)
    if not targets:
        raise ConfigError(f"found no attention projection ({', '.join(LORA_TARGETS)}) to put LoRA adapters on",
                          fix="use mode: finetune for this model")
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=targets, bias="none")
    inject_adapter_in_model(config, model)
    adapters = []
    for name, p in model.named_parameters():
        is_adapter = ".lora_" in name
        p.requires_grad_(is_adapter)
        if is_adapter:
            adapters.append(p)
    return adapters
