"""Chapter 01's study machinery: range tests and one-cycle training for many small
models at once, one stack per task.

Chapter 01 (The learning-rate finder) trains thousands of small models to score LRs
exactly where a heuristic points. Every replicate draws its own data, initial model
and batch order; within a replicate every *arm* (a peak LR and a schedule) starts
from the same weights and sees the same batches. The models of all replicates and
arms run as one `claimbook.replicates.Stacked` stack with `StackedAdam` (torch's Adam
update rule, one LR and one beta1 per model).

A *task* here is any object with ``make_model()`` (a fresh ``nn.Module``),
``loss(out, y)`` (per-example losses), ``bs`` (the batch size) and ``steps`` (the
default run length). `data` is a dict of stacked tensors, one replicate per row:
``xtr``, ``ytr`` (training), ``xva``, ``yva`` (validation) and ``xte``, ``yte``
(test), each of shape ``(replicates, rows, ...)``.

- `stacked_range_test`: the range test of chapter 01's section 1 for every replicate
  at once, the curves smoothed and cut by `claimbook.lrfind.smooth_and_stop`;
- `train_stacked`: every replicate trains every arm;
- `one_cycle` and `phases`: the schedules, built from fastai's own parts;
- `batch_order`, `rows`, `stacked_models`: the pieces they share;
- `read_curve`: the five picks a finder curve gives; `score_arms`: the share of the
  achievable improvement each arm gets; `decide_per_task` (with `k_needed`): a
  registered rule task by task, controls first, then 'holds on k of K'.

The unit tests check the stacked range test against independent single-model range
tests, `train_stacked` against separate ``torch.optim.Adam`` runs, and the scoring
and deciding on small cases worked by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .lrfind import BETA, smooth_and_stop
from .replicates import Stacked, StackedAdam

Schedule = Callable[[float], tuple[float, float]]  # position in [0, 1) -> (mult, beta1)

ADAM = {"betas": (0.9, 0.99), "eps": 1e-5}  # fastai's Adam defaults, torch's rule


def batch_order(seed: int, n: int, bs: int, steps: int) -> torch.Tensor:
    """(steps, bs) row indices: epochs of a fresh permutation from `seed` (the last
    incomplete batch of each epoch dropped)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < steps:
        perm = torch.randperm(n, generator=gen)
        out += list(perm[: n // bs * bs].view(-1, bs))
    return torch.stack(out[:steps])


def rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (R, N, ...) and idx (R, B) -> (R, B, ...): each replicate its own rows."""
    return x[torch.arange(len(x), device=x.device)[:, None], idx.to(x.device)]


def stacked_models(task, seeds: Sequence[int], copies: int, device=None) -> Stacked:
    """One stack: for each seed, `copies` copies of ``task.make_model()`` drawn
    after ``torch.manual_seed(seed)`` (replicate-major order)."""
    models = []
    for s in seeds:
        torch.manual_seed(s)
        m = task.make_model()
        models += [m] * copies  # Stacked copies the weights into its own tensors
    st = Stacked(models)
    return st if device is None else st.to(device)


def stacked_range_test(
    task,
    data: dict,
    seeds: Sequence[int],
    num_it: int,
    start: float = 1e-7,
    end: float = 10.0,
    beta: float = BETA,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The range test of chapter 01's section 1 for every replicate at once (torch
    Adam's update rule, fastai's defaults): replicate r trains from its seed's model
    on its own rows of ``data["xtr"]`` in `batch_order` ``(seed + 1)``. Returns one
    (lrs, smoothed losses) pair per replicate, each cut where fastai's test would
    stop (`smooth_and_stop`, float64 arithmetic, a NaN also stops)."""
    x, y = data["xtr"], data["ytr"]
    st = stacked_models(task, seeds, 1, x.device).train()
    opt = StackedAdam(st.parameters(), start, **ADAM)
    order = torch.stack(
        [batch_order(s + 1, x.shape[1], task.bs, num_it) for s in seeds], 1
    )
    lrs, raw = [], []
    for i in range(num_it):
        lr = start * (end / start) ** (i / num_it)
        opt.set_lr(lr)
        out = st(rows(x, order[i]))
        per = task.loss(out.flatten(0, 1), rows(y, order[i]).flatten(0, 1))
        per = per.view(len(seeds), -1).mean(1)
        opt.zero_grad()
        torch.where(torch.isfinite(per), per, 0.0).sum().backward()
        opt.step()
        lrs.append(lr)
        raw.append(per.detach().double().cpu())
    raw = torch.stack(raw, 1).numpy()
    curves = []
    for r in range(len(seeds)):
        kept, smooth = smooth_and_stop(raw[r], beta)
        curves.append((np.array(lrs[:kept]), smooth))
    return curves


def one_cycle(
    pct: float = 0.25,
    div: float = 25.0,
    div_final: float = 1e5,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
) -> Schedule:
    """fastai's fit_one_cycle schedule (LR multiplier and beta1) from its parts."""
    from fastai.callback.schedule import combined_cos

    lr, mom = combined_cos(pct, 1 / div, 1.0, 1 / div_final), combined_cos(pct, *moms)
    return lambda pos: (lr(pos), mom(pos))


def phases(
    warm: bool, anneal: bool, pct: float = 0.25, div: float = 25.0, div_final=1e5
) -> Schedule:
    """First `pct`: fastai's cosine warm-up or flat; then its cosine anneal or flat.
    beta1 stays 0.9, so only the LR differs between the four schedules."""
    from fastai.callback.schedule import SchedCos, SchedNo, combine_scheds

    first = SchedCos(1 / div, 1.0) if warm else SchedNo(1.0, 1.0)
    second = SchedCos(1.0, 1 / div_final) if anneal else SchedNo(1.0, 1.0)
    f = combine_scheds([pct, 1 - pct], [first, second])
    return lambda pos: (f(pos), 0.9)


def train_stacked(
    task,
    data: dict,
    seeds: Sequence[int],
    arms: Sequence[tuple[np.ndarray, Schedule]],
    steps: int | None = None,
) -> dict:
    """arms: (peak LR per replicate, schedule) pairs; every replicate trains every
    arm from one initial model (its seed's) and one batch order (`batch_order`
    ``(seed + 2)``), for `steps` steps (default ``task.steps``); at step i an arm
    runs at peak x the schedule's multiplier at ``i / steps``, with its beta1.

    Returns ``train`` (replicates, arms, steps) per-step training losses, ``va``
    and ``te`` (replicates, arms) final validation and test losses, and ``stack``
    (the trained `Stacked`, replicate-major)."""
    R, K, steps = len(seeds), len(arms), steps or task.steps
    x, y = data["xtr"], data["ytr"]
    st = stacked_models(task, seeds, K, x.device).train()
    peak = torch.tensor(np.stack([a[0] for a in arms], 1).reshape(-1))
    opt = StackedAdam(st.parameters(), 0.0, **ADAM)
    order = torch.stack(
        [batch_order(s + 2, x.shape[1], task.bs, steps) for s in seeds], 1
    )
    train = torch.empty(R * K, steps, dtype=torch.float64)
    for i in range(steps):
        mult, mom = zip(*(a[1](i / steps) for a in arms), strict=False)
        opt.set_lr(peak * torch.tensor(mult, dtype=torch.float64).repeat(R))
        opt.set_mom(torch.tensor(mom, dtype=torch.float64).repeat(R))
        xb = rows(x, order[i]).repeat_interleave(K, 0)
        yb = rows(y, order[i]).repeat_interleave(K, 0)
        per = task.loss(st(xb).flatten(0, 1), yb.flatten(0, 1)).view(R * K, -1)
        per = per.mean(1)
        opt.zero_grad()
        torch.where(torch.isfinite(per), per, 0.0).sum().backward()
        opt.step()
        train[:, i] = per.detach().cpu()
    st.eval()
    out = {"train": train.view(R, K, steps).numpy(), "stack": st}
    with torch.no_grad():
        for split in ("va", "te"):
            xe = data["x" + split].repeat_interleave(K, 0)
            ye = data["y" + split].repeat_interleave(K, 0)
            per = task.loss(st(xe).flatten(0, 1), ye.flatten(0, 1)).view(R * K, -1)
            out[split] = per.mean(1).double().view(R, K).cpu().numpy()
    return out


# --- scoring the runs and deciding a rule task by task ---------------------------


def read_curve(lrs, losses, num_it: int) -> dict:
    """The five picks one finder curve gives: fastai's four suggestions (as
    `lr_find` makes them, `claimbook.lrfind.suggestions`) and lesson 3's rule of
    thumb, a tenth of where the loss starts to shoot up (`shoot_up`, skipping the
    test's first tenth); ``"shot up"``: whether the curve rose within the range.
    A curve too short for a reading gives NaN for it."""
    from .lrfind import shoot_up, suggestions

    picks = suggestions(lrs, losses, num_it)
    skip = num_it // 10
    up = shoot_up(lrs, losses, skip=skip) if len(lrs) - skip >= 2 else None
    picks["rule of thumb"] = up.lr / 10 if up else np.nan
    picks["shot up"] = bool(up and up.found)  # False: no rise within the range
    return picks


def score_arms(res: dict, chance: np.ndarray, n_grid: int, best_te=None):
    """How much of what training can achieve each arm gets, per replicate.

    `res`: `train_stacked`'s output (``va``, ``te``: final losses, replicates x
    arms); `chance`: each replicate's loss of the best constant prediction; the
    first `n_grid` arms are the LR grid. A run that diverged or ends worse than the
    constant prediction learned nothing: its loss counts as `chance`. The
    achievable improvement is chance minus the test loss of the grid arm best on
    validation (or `best_te`, another stack's); a replicate where it is under 1% of
    chance cannot be scored (NaN). Returns (valid losses, the best grid arm per
    replicate, every arm's captured share, the reference test loss)."""
    chance = np.asarray(chance, dtype=np.float64)
    va, te = (
        np.where(np.isfinite(v) & (v < chance[:, None]), v, chance[:, None])
        for v in (res["va"], res["te"])
    )
    best = va[:, :n_grid].argmin(1)
    ref = te[np.arange(len(chance)), best] if best_te is None else best_te
    gain = chance - ref
    gain = np.where(gain > 0.01 * chance, gain, np.nan)
    return va, best, (chance[:, None] - te) / gain[:, None], ref


def k_needed(rule, cases: int) -> int:
    """k of a rule registered as '..., holds on k of K with k = .'; K must be
    `cases` (the tasks, or the held-out cases the rule decides)."""
    import re

    m = re.search(r"holds on k of (\d+) with k = (\d+)", rule.aggregation)
    if not m:
        raise ValueError(f"{rule.key}: no 'holds on k of K with k = .' aggregation")
    if int(m[1]) != cases:
        raise ValueError(f"{rule.key}: registered for {m[1]} cases, got {cases}")
    return int(m[2])


def decide_per_task(rule, values: dict, control_values: dict, control_rule=None):
    """The registered `rule` on each task ({task: one value per replicate}), each
    task's control ({task: values}, decided first with `control_rule`), then 'holds
    on k of K' (`claimbook.evidence.decide_tasks`). A task whose replicates all gave
    one value is decided by an exact check (``constant="exact"``), as chapter 01's
    rules register. Returns ``(TaskDecisions, "")``, or ``(None, why)`` where a
    replicate could not be scored (NaN) or a control has no interval (toy budgets)."""
    from .evidence import decide_control, decide_tasks

    unscored = {
        name: int(np.isnan(v).sum() + np.isnan(control_values.get(name, 0)).sum())
        for name, v in values.items()
    }
    unscored = {name: k for name, k in unscored.items() if k}
    if unscored:
        why = ", ".join(f"{name}: {k}" for name, k in unscored.items())
        return None, f"replicates where no grid LR learned anything ({why})"
    controls = None
    if rule.control:
        if control_rule is None:
            raise ValueError(f"{rule.key}: decide its control {rule.control!r} too")
        same = [n for n in values if np.ptp(control_values[n]) == 0]
        if same:
            return None, f"identical control values on {', '.join(same)}"
        controls = {n: decide_control(control_values[n], control_rule) for n in values}
    d = decide_tasks(
        values, rule, k_needed(rule, len(values)), controls=controls, constant="exact"
    )
    return d, ""
