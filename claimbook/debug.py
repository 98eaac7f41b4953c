"""Training-pipeline sanity checks: backprop to chart dependencies across a batch.

Introduced in chapter 05 (The training recipe). Karpathy's recipe suggests a check
for bugs that mix information between the examples of a batch (the classic one is
``x.view(...)`` where ``x.permute(...)`` was meant): take the sum of example i's
outputs, backpropagate it to the *inputs*, and verify that only input i receives
a gradient. A model whose examples flow through independent paths passes; a
reshape that moves the batch axis, or BatchNorm in training mode (it normalises
with statistics of the whole batch), makes other inputs receive gradient too.

The check runs the model in whatever mode the caller set (``model.train()`` or
``model.eval()``); it never changes the mode. It does not touch the parameters'
``.grad`` (it uses ``torch.autograd.grad``), and it restores the model's buffers
afterwards, so BatchNorm's running statistics are the same before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["BatchDependencies", "backprop_dependencies", "dependency_matrix"]


@dataclass(frozen=True)
class BatchDependencies:
    """Which inputs of a batch the outputs of example `index` depend on.

    `grad_norms[j]` is the L2 norm of d(sum of example `index`'s outputs)/d(input j).
    An input "receives gradient" when its norm is above `tol` (default 0: any
    non-zero gradient; a batch-independent model gives exact zeros elsewhere).
    """

    index: int
    grad_norms: tuple[float, ...]
    tol: float
    training: bool  # the model's mode during the check

    @property
    def receives(self) -> tuple[int, ...]:
        """The inputs that received gradient."""
        return tuple(j for j, g in enumerate(self.grad_norms) if g > self.tol)

    @property
    def leaks(self) -> tuple[int, ...]:
        """Inputs other than `index` that received gradient (should be empty)."""
        return tuple(j for j in self.receives if j != self.index)

    @property
    def independent(self) -> bool:
        """True when no other example influences example `index`'s outputs."""
        return not self.leaks

    @property
    def ok(self) -> bool:
        """The recipe's test: gradient on input `index` and on no other input."""
        return self.receives == (self.index,)


def _snapshot_buffers(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(b, b.detach().clone()) for b in model.buffers()]


def _restore_buffers(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for buf, copy in saved:
            buf.copy_(copy)


def backprop_dependencies(
    model: nn.Module,
    xb: torch.Tensor,
    index: int = 0,
    *,
    batch_dim: int = 0,
    tol: float = 0.0,
) -> BatchDependencies:
    """Backpropagate the sum of example `index`'s outputs to the inputs `xb`.

    `xb` must be a floating-point batch (for token inputs, check from the
    embedding's output instead). `batch_dim` is the batch axis of both the input
    and the output (1 for sequence-first models). The model's train/eval mode is
    used as set by the caller; its buffers (BatchNorm running statistics) are
    restored afterwards and parameter gradients are left untouched.
    """
    if not torch.is_floating_point(xb):
        raise TypeError("backprop_dependencies needs a floating-point input batch")
    n = xb.shape[batch_dim]
    if not 0 <= index < n:
        raise IndexError(f"index {index} is outside a batch of {n}")
    saved = _snapshot_buffers(model)
    # cuDNN's RNN kernels refuse a backward pass in eval mode; this check is about
    # which inputs feed which outputs, not speed, so it runs with cuDNN switched off
    # (a no-op on the CPU)
    try:
        with torch.backends.cudnn.flags(enabled=False):
            x = xb.detach().clone().requires_grad_(True)
            out = model(x)
            if not isinstance(out, torch.Tensor):
                raise TypeError("the model must return one tensor")
            target = out.select(batch_dim, index).sum()
            (grad,) = torch.autograd.grad(target, x, allow_unused=True)
    finally:
        _restore_buffers(saved)
    if grad is None:  # the output does not depend on the input at all
        grad = torch.zeros_like(x)
    norms = grad.detach().movedim(batch_dim, 0).reshape(n, -1).norm(dim=1)
    return BatchDependencies(index, tuple(float(g) for g in norms), tol, model.training)


def dependency_matrix(
    model: nn.Module, xb: torch.Tensor, *, batch_dim: int = 0
) -> torch.Tensor:
    """An (n, n) matrix: row i holds the gradient norms on every input from
    example i's outputs. A batch-independent model gives a diagonal matrix."""
    n = xb.shape[batch_dim]
    rows = [
        backprop_dependencies(model, xb, i, batch_dim=batch_dim).grad_norms
        for i in range(n)
    ]
    return torch.tensor(rows)
