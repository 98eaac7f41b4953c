"""Hooks that own their handles.

Introduced in chapter 03 (Hooks and heatmaps). The chapter builds a hook from
scratch first; `LayerHooks` is the reusable version: a context manager that
registers a forward hook (and optionally a full backward hook) on each named
module, stores what passes through, and removes every handle on exit, even after
an exception.

    with LayerHooks({"layer4": model.layer4}, backward=True) as hooks:
        logits = model(xb)
        logits[range(len(xb)), cls].sum().backward()
    acts, grads = hooks.acts["layer4"], hooks.grads["layer4"]

By default each forward pass overwrites what the previous one stored
(``keep_all=False``), so a hook that stays registered does not grow memory;
``keep_all=True`` appends instead (the behaviour the lesson warns about).

The maps computed from what the hooks store, and the scores they are read with,
are in `claimbook.heatmaps`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


class LayerHooks:
    """Store the outputs (and output gradients) of named modules; owns its handles.

    Parameters
    ----------
    modules: a mapping name -> module, or a single module (named "out").
    backward: also register ``register_full_backward_hook`` to store the gradient
        of the loss with respect to each module's output.
    detach: store detached tensors (no autograd graph kept alive).
    keep_all: append every pass to a list instead of keeping the last one.
    """

    def __init__(
        self,
        modules: Mapping[str, nn.Module] | nn.Module,
        *,
        backward: bool = False,
        detach: bool = True,
        keep_all: bool = False,
    ) -> None:
        if isinstance(modules, nn.Module):
            modules = {"out": modules}
        self.modules: dict[str, nn.Module] = dict(modules)
        self.backward = backward
        self.detach = detach
        self.keep_all = keep_all
        self.handles: list[RemovableHandle] = []
        self.acts: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        self.all_acts: dict[str, list[torch.Tensor]] = {k: [] for k in self.modules}
        self.all_grads: dict[str, list[torch.Tensor]] = {k: [] for k in self.modules}

    # -- registration -------------------------------------------------------
    def register(self) -> LayerHooks:
        """Register the hooks (idempotent: a second call registers nothing new)."""
        if self.handles:
            return self
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_hook(self._forward_fn(name)))
            if self.backward:
                hook = self._backward_fn(name)
                self.handles.append(module.register_full_backward_hook(hook))
        return self

    def remove(self) -> None:
        """Remove every handle this object registered (safe to call twice)."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    @property
    def active(self) -> bool:
        """Whether any hook is still registered."""
        return bool(self.handles)

    def clear(self) -> None:
        """Drop every stored tensor (the hooks stay registered)."""
        self.acts.clear()
        self.grads.clear()
        for store in (self.all_acts, self.all_grads):
            for v in store.values():
                v.clear()

    def n_stored(self) -> int:
        """How many tensors this object currently holds."""
        lists = sum(len(v) for v in self.all_acts.values()) + sum(
            len(v) for v in self.all_grads.values()
        )
        return len(self.acts) + len(self.grads) + lists

    def __enter__(self) -> LayerHooks:
        return self.register()

    def __exit__(self, *exc) -> None:
        self.remove()

    # -- the hook functions -------------------------------------------------
    def _keep(self, t: torch.Tensor) -> torch.Tensor:
        return t.detach() if self.detach else t

    def _forward_fn(self, name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            out = self._keep(output)
            if self.keep_all:
                self.all_acts[name].append(out)
            self.acts[name] = out

        return hook

    def _backward_fn(self, name: str):
        def hook(module: nn.Module, grad_input, grad_output) -> None:
            grad = grad_output[0].detach()
            if self.keep_all:
                self.all_grads[name].append(grad)
            self.grads[name] = grad

        return hook


def n_hooks(module: nn.Module) -> int:
    """How many forward, forward-pre and backward hooks are registered on a module
    and all its children (reads PyTorch's private hook dicts; used in leak checks)."""
    total = 0
    for m in module.modules():
        for attr in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
        ):
            total += len(getattr(m, attr, {}) or {})
    return total
