"""Mean pooling for encoders whose checkpoint was trained with it (sentence-transformers), as forward hooks.

The architecture's own classifier stays (it reads position 0 of the last hidden state, through BERT's pooler
or RoBERTa's head): the hooks put the mask-weighted mean of the token states at position 0 and make BERT's
pooler pass it through, so the head reads what the checkpoint learnt to produce. The choice is saved in the
model config (`POOLING_KEY`), and loading a trained run attaches the same hooks.
"""

import torch
from torch import nn

from training.architecture import ModelConfigError

POOLING_KEY = "account_tax_pooling"


class FirstToken(nn.Module):
    """A pooler that hands on position 0 (there: the mean) unchanged."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states[:, 0]


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return hidden.mean(dim=1)
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def attach_pooling(model, pooling: str):
    """Hooks for 'mean'; 'cls' and 'last' are what the architecture does already. The choice goes in the config."""
    model.config.update({POOLING_KEY: pooling})
    if pooling != "mean":
        return model
    if getattr(model, "_mean_pooling_hooks", False):  # attached once: a second set would pool the mean again
        return model
    backbone = getattr(model, model.base_model_prefix)
    pooler = getattr(backbone, "pooler", None)
    # BERT-like backbones pool inside their forward: the mean must be in place before their pooler reads it
    stack = getattr(backbone, "encoder", None) if pooler is not None else backbone
    if stack is None:
        raise ModelConfigError(f"mean pooling: {type(backbone).__name__} has a pooler but no .encoder to hook")
    seen: dict[str, torch.Tensor | None] = {}

    def keep_mask(module, args, kwargs):
        seen["mask"] = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)

    def put_mean_first(module, args, output):
        hidden = output[0]
        mean = masked_mean(hidden, seen.pop("mask", None))
        hidden = torch.cat([mean.unsqueeze(1), hidden[:, 1:]], dim=1)
        if isinstance(output, tuple):
            return (hidden, *output[1:])
        output["last_hidden_state"] = hidden
        return output

    backbone.register_forward_pre_hook(keep_mask, with_kwargs=True)
    stack.register_forward_hook(put_mean_first)
    if pooler is not None:
        backbone.pooler = FirstToken()
    model._mean_pooling_hooks = True
    return model


def saved_pooling(config) -> str:
    return getattr(config, POOLING_KEY, None) or "auto"
