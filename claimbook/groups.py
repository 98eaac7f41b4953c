"""Layer groups and per-group learning rates, written out from scratch.

Introduced in chapter 02 (Discriminative learning rates). fastai hands a model's
parameters to its optimizer as *layer groups* (a list of parameter lists, from the
model's splitter) and spreads a learning rate over them: a float gives every group
the same value, ``slice(b)`` gives the last group ``b`` and the others
``b / slice_div``, ``slice(a, b)`` spaces the values geometrically from ``a`` to
``b`` (fastai's ``even_mults``). `spread_lrs` reproduces that rule for any
``slice_div`` (10 in fastai >= 1.0.29 and in fastai 2; 3 in fastai 1.0.0-1.0.28),
and `group_stats` counts what each group holds and what is trainable in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from torch import nn

SLICE_DIV = 10.0  # slice(b): the other groups get b/10 (fastai >= 1.0.29, fastai 2.x)
SLICE_DIV_V1_EARLY = 3.0  # fastai 1.0.0 to 1.0.28 (until 2018-11-27): b/3


def spread_lrs(
    lr: float | slice, n_groups: int, *, slice_div: float = SLICE_DIV
) -> list[float]:
    """One learning rate per layer group, the way fastai spreads `lr`.

    * a number: every group gets it;
    * ``slice(b)`` (or ``slice(0, b)``: fastai tests the start's truthiness):
      the last group gets ``b``, every other group ``b / slice_div``;
    * ``slice(a, b)``: a geometric progression from ``a`` (first group) to ``b``
      (last group), each group ``(b / a) ** (1 / (n_groups - 1))`` times the one
      before it; with one group, ``b``.
    """
    if n_groups < 1:
        raise ValueError(f"n_groups={n_groups}; need at least one group")
    if not isinstance(lr, slice):
        return [float(lr)] * n_groups
    if lr.stop is None or lr.step is not None:
        raise ValueError(f"{lr!r}: use slice(b) or slice(a, b)")
    stop = float(lr.stop)
    if not lr.start:
        return [stop / slice_div] * (n_groups - 1) + [stop]
    start = float(lr.start)
    if n_groups == 1:
        return [stop]
    step = (stop / start) ** (1 / (n_groups - 1))
    return [start * step**i for i in range(n_groups)]


@dataclass(frozen=True)
class GroupStats:
    """What one layer group holds: parameter tensors and scalars, how many of them
    are trainable (``requires_grad``), how many belong to normalisation layers, and
    the names of the modules they come from (truncated to `depth` name parts)."""

    n_tensors: int
    n_params: int
    trainable_tensors: int
    trainable_params: int
    norm_tensors: int
    trainable_norm_tensors: int
    modules: tuple[str, ...]


_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def group_stats(
    model: nn.Module, groups: Iterable[Sequence[nn.Parameter]], depth: int = 2
) -> list[GroupStats]:
    """Per-group counts for `groups` (lists of `model`'s parameters, e.g. from a
    fastai splitter or `learn.opt.param_lists`). Raises ValueError for a parameter
    that is not in `model`."""
    names = {id(p): n for n, p in model.named_parameters()}
    norm_ids = {
        id(p)
        for m in model.modules()
        if isinstance(m, _NORM_TYPES)
        for p in m.parameters(recurse=False)
    }
    out = []
    for group in groups:
        group = list(group)
        missing = [p for p in group if id(p) not in names]
        if missing:
            raise ValueError(
                f"{len(missing)} parameter(s) of a group are not in the model"
            )
        mods: list[str] = []
        for p in group:
            prefix = ".".join(names[id(p)].split(".")[:-1][:depth])
            if prefix not in mods:
                mods.append(prefix)
        out.append(
            GroupStats(
                n_tensors=len(group),
                n_params=sum(p.numel() for p in group),
                trainable_tensors=sum(p.requires_grad for p in group),
                trainable_params=sum(p.numel() for p in group if p.requires_grad),
                norm_tensors=sum(id(p) in norm_ids for p in group),
                trainable_norm_tensors=sum(
                    id(p) in norm_ids and p.requires_grad for p in group
                ),
                modules=tuple(mods),
            )
        )
    return out


def is_partition(model: nn.Module, groups: Iterable[Sequence[nn.Parameter]]) -> bool:
    """True when every parameter of `model` is in exactly one group and the groups
    hold nothing else."""
    seen: list[int] = [id(p) for g in groups for p in g]
    return len(seen) == len(set(seen)) and set(seen) == {
        id(p) for p in model.parameters()
    }
