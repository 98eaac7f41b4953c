"""The evidence standard: registered rules, named designs, controls, intervals.

Introduced in chapter 00 (Start here). A claim decided by an experiment is a small
trial, judged in four steps:

1. **Register the rule first** (`Rule`, loaded by claim from the registry,
   `claimbook.registry.rule`): the quantity measured per replicate, the design,
   the direction the note claims, the margin or smallest effect that matters, the
   confidence level, the interval method, n per budget, the control, and how
   several tasks are aggregated. A chapter prints it before the cell that measures.
2. **Run independent replicates**: each its own data draw, initialisation and
   batch order; two arms are compared *within* a replicate (`paired`).
3. **Check the control first** (`decide_control`): a contrast whose effect is
   known to exist on this budget, measured at the same n. For a superiority rule
   its interval must exclude zero in the expected direction; for non-inferiority
   and equivalence the margin may be at most half the control's bound nearest to
   zero (the FDA's M1/M2 rule). A control that misses its bar leaves the claim
   **not checked on this budget**, with the reason.
4. **Decide from the interval** (`decide`), by the design:

   * **superiority** (``direction="greater"``, ``min_effect`` d): holds when the
     whole interval lies at or above d (``low >= d``); does not hold when all of
     it lies below d (``high < d``); inconclusive otherwise. ``"less"`` mirrors it.
   * **non-inferiority** (margin M > 0): the new arm minus the reference must not
     be worse by M or more. Holds when the lower bound of the two-sided interval
     lies above -M (``low > -M``, strictly, as CONSORT reads it); does not hold when
     the whole interval lies below -M (``high < -M``); inconclusive otherwise.
   * **equivalence** (margin M > 0, two one-sided tests at 5%): holds when the 90%
     interval lies inside (-M, +M); does not hold when it lies wholly outside it;
     inconclusive otherwise.

A rule that cannot reach one of its outcomes at the n it runs (an exact binomial
rule at small n: 8 of 8 successes give a lower bound of 0.631) says so
(`Rule.attainable`), and `decide` then reports that it cannot decide at that n.

Intervals come from `scipy.stats`: a t interval of the mean (``"t"``), a BCa
bootstrap of the mean with a fixed generator (``"bootstrap"``), or an exact
Clopper-Pearson interval of a share of successes (``"proportion"``, also for any
all-equal 0/1 sample). A continuous quantity that comes out identical in every
replicate is no statistical result: `decide` refuses it (`ConstantSample`); decide
it as an exact check (`claimbook.tolerance`).

This module imports nothing from the package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

DIRECTIONS = ("greater", "less")
DESIGNS = ("superiority", "non-inferiority", "equivalence")
METHODS = ("t", "bootstrap", "proportion")
# "undecidable": the rule cannot reach an outcome at this n; "not checked": its
# control missed the bar, so the experiment could not have seen the effect.
# One vocabulary with the verdicts: an outcome that is not "holds" reads "does not
# hold", the verdict line's words (a negative control's `expected` takes only these).
HOLDS, DOES_NOT_HOLD = "holds", "does not hold"
OUTCOMES = (HOLDS, DOES_NOT_HOLD, "inconclusive", "undecidable", "not checked")
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 20180101  # fixed: the interval must not change between runs
EQUIVALENCE_LEVEL = 0.90  # two one-sided tests at 5% each


class RuleError(ValueError):
    """A rule or a sample that cannot be decided (wrong direction, too few values)."""


class ConstantSample(RuleError):
    """Every replicate gave the same continuous value: decide it as an exact check."""


@dataclass(frozen=True)
class Rule:
    """A decision rule, registered before the measurement.

    quantity: what one replicate contributes, in words, with its sign convention
        (e.g. "accuracy of slice(lr/10, lr) minus accuracy of one LR").
    direction: "greater" when the note claims the quantity is positive (above
        `min_effect`), "less" when it claims it is negative (below -`min_effect`).
        Non-inferiority reads "greater" as "the new arm is not worse" (the
        quantity is new minus reference, higher is better); equivalence ignores it.
    min_effect: superiority only: the smallest effect that matters (>= 0), in the
        quantity's units; for ``method="proportion"`` the share the claim needs.
    confidence: the two-sided confidence level (equivalence: 0.90 by default).
    method: "t", "bootstrap" or "proportion".
    design: "superiority", "non-inferiority" or "equivalence".
    margin: the non-inferiority or equivalence margin (> 0).

    Registry fields (set by `claimbook.registry.rule`; empty for an ad-hoc rule):
    key (the registry's name for it), claim, n (replicates at the budget it was
    loaded for), control (the control rule's key), aggregation (how several tasks
    combine), registered (date), amended (a history entry says it changed after
    results were seen), note (the scope the rule was registered for).
    """

    quantity: str
    direction: str
    min_effect: float = 0.0
    confidence: float | None = None
    method: str = "t"
    design: str = "superiority"
    margin: float | None = None
    key: str = ""
    claim: str = ""
    n: int | None = None
    control: str = ""
    aggregation: str = ""
    registered: str = ""
    amended: bool = False
    history: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        if self.design not in DESIGNS:
            raise RuleError(f"design={self.design!r}; use one of {DESIGNS}")
        if self.direction not in DIRECTIONS:
            raise RuleError(f"direction={self.direction!r}; use one of {DIRECTIONS}")
        if self.method not in METHODS:
            raise RuleError(f"method={self.method!r}; use one of {METHODS}")
        if self.confidence is None:
            level = EQUIVALENCE_LEVEL if self.design == "equivalence" else 0.95
            object.__setattr__(self, "confidence", level)
        if not 0.5 < self.confidence < 1:
            raise RuleError(f"confidence={self.confidence}; use a level in (0.5, 1)")
        if not self.min_effect >= 0 or not math.isfinite(self.min_effect):
            raise RuleError(f"min_effect={self.min_effect}; use a finite value >= 0")
        if self.design == "superiority":
            if self.margin is not None:
                raise RuleError("a superiority rule takes min_effect, not a margin")
            if self.method == "proportion" and not 0 < self.min_effect < 1:
                raise RuleError(
                    "a proportion rule needs a share in (0, 1) as min_effect"
                )
        else:
            if self.margin is None or not (0 < self.margin < math.inf):
                raise RuleError(f"a {self.design} rule needs a finite margin > 0")
            if self.min_effect:
                raise RuleError(f"a {self.design} rule takes a margin, not min_effect")
            if self.method == "proportion":
                raise RuleError(f"a {self.design} rule compares means, not shares")
        if self.n is not None and self.n < 1:
            raise RuleError(f"n={self.n}; a rule runs at least one replicate")

    @property
    def threshold(self) -> float:
        """The value the interval is compared with (signed; superiority and
        non-inferiority; equivalence has two, -margin and +margin)."""
        if self.design == "non-inferiority":
            return -self.margin if self.direction == "greater" else self.margin
        if self.design == "equivalence":
            return self.margin
        if self.method == "proportion":
            return self.min_effect
        return self.min_effect if self.direction == "greater" else -self.min_effect

    def design_text(self) -> str:
        """'superiority', 'non-inferiority, margin 0.02', 'equivalence, margin 0.01'."""
        if self.design == "superiority":
            return "superiority"
        return f"{self.design}, margin {_num(self.margin).lstrip('+')}"

    def describe(self) -> str:
        """Short, for the verdict line: design, test and interval."""
        how = {"t": "t", "bootstrap": "BCa bootstrap", "proportion": "exact binomial"}
        what = self.quantity
        if self.method == "proportion":
            what = f"share of replicates where {what}"
        if self.design == "equivalence":
            m = _num(self.margin).lstrip("+")
            test = f"{what} within ±{m}"
        else:
            op = ">=" if self.direction == "greater" else "<="
            if self.design == "non-inferiority":
                op = ">" if self.direction == "greater" else "<"
            test = f"{what} {op} {_num(self.threshold)}"
        out = f"{self.design_text()}: {test} ({self.confidence:.0%} {how[self.method]}"
        out += " interval"
        if self.n is not None:
            out += f", n={self.n}"
        out += ")"
        if self.aggregation:
            out += f"; {self.aggregation}"
        if self.amended:
            out += "; amended after results were seen (see its history)"
        return out

    def outcome_text(self) -> str:
        if self.design == "equivalence":
            m = _num(self.margin).lstrip("+")
            return (
                f"Holds if the whole {self.confidence:.0%} interval lies inside "
                f"(-{m}, +{m}); does not hold if it lies wholly outside; "
                "inconclusive on this budget otherwise."
            )
        thr = _num(self.threshold)
        if self.design == "non-inferiority":
            if self.direction == "greater":
                return (
                    f"Holds if the interval's lower bound is above {thr}; does not "
                    f"hold if its upper bound is below {thr}; inconclusive on this "
                    "budget otherwise."
                )
            return (
                f"Holds if the interval's upper bound is below {thr}; does not hold "
                f"if its lower bound is above {thr}; inconclusive on this budget "
                "otherwise."
            )
        op = ">=" if self.direction == "greater" else "<="
        return (
            f"Holds if the whole interval is {op} {thr}; does not hold if none of it "
            "is; inconclusive on this budget otherwise."
        )

    def __str__(self) -> str:
        """One compact line, as a chapter prints it before its runs: key, date,
        design, test, interval, n, aggregation, control. (What each outcome means is
        `outcome_text`, the same for every rule of a design: the book says it once.)"""
        head = f"Rule {self.key}" if self.key else "Decision rule"
        when = f" (registered {self.registered})" if self.registered else ""
        out = f"{head}{when}: {self.describe()}"
        if self.control:
            out += f"; control, decided first: {self.control}"
        return out + "."

    def attainable(self, n: int | None = None) -> dict[str, bool]:
        """Whether 'holds' and 'does not hold' can be reached with n replicates.

        A t or bootstrap interval can sit anywhere once n >= 2. An exact
        binomial interval cannot: at n=4 all successes give a lower bound of
        0.398, so a rule needing a share >= 0.6 can never hold there.
        """
        n = self.n if n is None else n
        if n is None:
            raise RuleError("attainable() needs n (the rule carries none)")
        if n < 2:
            return {HOLDS: False, DOES_NOT_HOLD: False}
        if self.method != "proportion":
            return {HOLDS: True, DOES_NOT_HOLD: True}
        all_ok = clopper_pearson(n, n, self.confidence)
        none_ok = clopper_pearson(0, n, self.confidence)
        t = self.threshold
        if self.direction == "greater":
            return {HOLDS: all_ok[0] >= t, DOES_NOT_HOLD: none_ok[1] < t}
        return {HOLDS: none_ok[1] <= t, DOES_NOT_HOLD: all_ok[0] > t}


@dataclass(frozen=True)
class Decision:
    """The interval of one rule's quantity over the replicates, and its outcome."""

    rule: Rule
    effect: float  # the mean (or the share, for a proportion)
    low: float
    high: float
    n: int
    outcome: str  # one of OUTCOMES
    reason: str = ""  # why "undecidable" or "not checked"
    control: Decision | None = None  # the control decided before this one

    def interval_text(self) -> str:
        """'mean +0.034 [+0.012, +0.056] (95% CI, n=8)', for the verdict line."""
        unit = "share" if self.rule.method == "proportion" else "mean"
        return (
            f"{unit} {_num(self.effect)} [{_num(self.low)}, {_num(self.high)}] "
            f"({self.rule.confidence:.0%} CI, n={self.n})"
        )

    def control_text(self) -> str:
        """The control's interval and whether it cleared its bar ('' if none)."""
        if self.control is None:
            return ""
        c = self.control
        name = c.rule.key or c.rule.quantity
        return f"{name}: {c.interval_text()} -> {c.outcome}"

    def __str__(self) -> str:
        out = f"{self.interval_text()} -> {self.outcome}"
        if self.reason:
            out += f" ({self.reason})"
        return out


def _num(x: float) -> str:
    """A signed number with 3 significant digits, stable for printing."""
    if x == 0:
        return "0"  # also for -0.0 (a "less" rule with min_effect 0)
    if not math.isfinite(x):
        return f"{x:g}"
    digits = max(3 - int(math.floor(math.log10(abs(x)))) - 1, 0)
    if 1e-3 <= abs(x) < 1e4:
        s = f"{x:+.{digits}f}"
    else:
        s = f"{x:+.2e}"
    return "+0" if s in ("+0", "-0") or float(s) == 0 else s


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of k successes in n, from scipy."""
    from scipy import stats

    if not 0 <= k <= n or n < 1:
        raise RuleError(f"k={k}, n={n}: need 0 <= k <= n and n >= 1")
    ci = stats.binomtest(k, n).proportion_ci(confidence, method="exact")
    return float(ci.low), float(ci.high)


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _check_sample(x: np.ndarray, rule: Rule) -> None:
    if x.ndim != 1 or len(x) < 2:
        raise RuleError(f"need at least 2 replicates, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise RuleError("a replicate's value is not finite; score failures explicitly")
    if rule.method == "proportion" and not _is_binary(x):
        raise RuleError("a proportion rule takes 0/1 outcomes per replicate")


def interval(values: Sequence[float], rule: Rule) -> tuple[float, float, float]:
    """(effect, low, high) for the replicates' values under the rule's method."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    _check_sample(x, rule)
    if rule.method == "proportion":
        k, n = int(x.sum()), len(x)
        low, high = clopper_pearson(k, n, rule.confidence)
        return k / n, low, high
    if np.ptp(x) == 0:
        if _is_binary(x):
            raise ConstantSample(
                f"every replicate is {x[0]:g}: a 0/1 outcome is a share; register "
                "the rule with method='proportion' (exact binomial interval)"
            )
        raise ConstantSample(
            f"every replicate gave {x[0]:g}: an identical continuous value is not "
            "a statistical result; decide it as an exact check (exact_check) "
            "with a tolerance from float_tolerance"
        )
    mean = float(x.mean())
    if rule.method == "t":
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(rule.confidence)
        return mean, float(ci.low), float(ci.high)
    res = stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=rule.confidence,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)


def _outcome(rule: Rule, low: float, high: float) -> str:
    t = rule.threshold
    if rule.design == "equivalence":
        holds, fails = -t < low and high < t, high <= -t or low >= t
    elif rule.design == "non-inferiority":
        if rule.direction == "greater":
            holds, fails = low > t, high < t
        else:
            holds, fails = high < t, low > t
    elif rule.direction == "greater":
        holds, fails = low >= t, high < t
    else:
        holds, fails = high <= t, low > t
    return HOLDS if holds else DOES_NOT_HOLD if fails else "inconclusive"


def control_bar(rule: Rule, control: Decision) -> tuple[bool, str]:
    """Whether a positive control clears the bar `rule` sets, and why not.

    Superiority: the control's own rule must hold (its interval excludes zero in
    the expected direction, at least its min_effect). Non-inferiority and
    equivalence: the control must hold too, and the margin may be at most half
    the control's bound nearest to zero (the M1/M2 rule).
    """
    c = control
    if c.outcome != "holds":
        return False, (
            f"its control ({c.rule.key or c.rule.quantity}) did not show the known "
            f"effect at n={c.n}: {c.interval_text()} -> {c.outcome}"
        )
    if rule.design == "superiority":
        return True, ""
    near = min(abs(c.low), abs(c.high)) if c.low * c.high > 0 else 0.0
    if rule.margin > near / 2:
        return False, (
            f"its margin {_num(rule.margin).lstrip('+')} is more than half the "
            f"control's bound nearest zero ({_num(near).lstrip('+')}): the "
            "experiment cannot tell a loss of that size from the effect itself"
        )
    return True, ""


def decide(
    values: Sequence[float],
    rule: Rule,
    *,
    control: Decision | None = None,
    constant: str = "raise",
) -> Decision:
    """The rule's outcome for one value per replicate (see the module docstring).

    A rule that names a control needs the control's `Decision` (from
    `decide_control`, made first at the same n); one that misses its bar makes the
    outcome "not checked". A rule whose outcomes cannot all be reached at this n
    is "undecidable".

    Every replicate giving the same continuous value raises `ConstantSample`
    (decide it as an exact check instead); with ``constant="undecidable"`` the
    outcome is "undecidable" and says why: for a toy budget's runs (the mini
    budget), where identical replicates say the runs are too small to differ,
    not that the claim is exact. With ``constant="exact"`` such a sample is decided
    as an exact check: the one value against the rule's threshold, as an interval
    of zero width would be (a rule must register this; chapter 01's do: a task on
    which every pick scores exactly 0 lies wholly below any positive bar)."""
    if constant not in ("raise", "undecidable", "exact"):
        raise RuleError(f"constant={constant!r}; use 'raise', 'undecidable' or 'exact'")
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if rule.n is not None and n != rule.n:
        raise RuleError(
            f"{rule.key or rule.quantity}: registered for n={rule.n}, got {n} values"
        )
    if rule.control and control is None:
        raise RuleError(
            f"{rule.key}: decide its control {rule.control!r} first and pass it"
        )
    _check_sample(x, rule)
    reach = rule.attainable(n)
    if not all(reach.values()):
        missing = " or ".join(f"'{k}'" for k, ok in reach.items() if not ok)
        eff = float(x.mean()) if n else math.nan
        return Decision(
            rule, eff, math.nan, math.nan, n, "undecidable",
            f"{missing} cannot be reached at n={n}", control,
        )  # fmt: skip
    try:
        effect, low, high = interval(x, rule)
    except ConstantSample as err:
        if constant == "raise":
            raise
        if constant == "exact":
            v = float(x[0])
            outcome, reason = _outcome(rule, v, v), f"exact check: all {n} gave {v:g}"
            if control is not None:
                ok, why = control_bar(rule, control)
                if not ok:
                    outcome, reason = "not checked", why
            return Decision(rule, v, v, v, n, outcome, reason, control)
        return Decision(
            rule, float(x[0]), math.nan, math.nan, n, "undecidable",
            f"no interval: {err}".split("; ")[0], control,
        )  # fmt: skip
    outcome, reason = _outcome(rule, low, high), ""
    if control is not None:
        ok, why = control_bar(rule, control)
        if not ok:
            outcome, reason = "not checked", why
    return Decision(rule, effect, low, high, n, outcome, reason, control)


def decide_control(values: Sequence[float], rule: Rule) -> Decision:
    """Decide a control contrast (its own superiority rule, at the same n)."""
    if rule.design != "superiority":
        raise RuleError("a control is a superiority rule: the known effect exists")
    return decide(values, rule)


def decide_negative_control(
    values: Sequence[float], rule: Rule, expected: str
) -> Decision:
    """A negative control: an arm that must come out as `expected` ('does not hold'
    for a broken arm, 'holds' for an equivalence of a recipe against itself). A
    negative control that does not is reported in `reason` as 'not checked'."""
    if expected not in (HOLDS, DOES_NOT_HOLD):
        raise RuleError(
            f"expected={expected!r}; a negative control expects {HOLDS!r} or "
            f"{DOES_NOT_HOLD!r}"
        )
    d = decide(values, rule)
    if d.outcome != expected:
        return replace(
            d,
            outcome="not checked",
            reason=f"negative control came out '{d.outcome}', not '{expected}'",
        )
    return d


@dataclass(frozen=True)
class TaskDecisions:
    """A rule decided per task and aggregated as 'holds on k of K'."""

    rule: Rule
    per_task: Mapping[str, Decision]
    k_needed: int
    outcome: str

    def counts(self) -> dict[str, int]:
        out = {o: 0 for o in OUTCOMES}
        for d in self.per_task.values():
            out[d.outcome] += 1
        return out

    def interval_text(self) -> str:
        c, k = self.counts(), len(self.per_task)
        return (
            f"holds on {c['holds']} of {k} tasks, does not hold on {c[DOES_NOT_HOLD]} "
            f"(needs {self.k_needed} of {k})"
        )

    def lines(self) -> list[str]:
        return [f"{name}: {d}" for name, d in self.per_task.items()]


def decide_tasks(
    values_by_task: Mapping[str, Sequence[float]],
    rule: Rule,
    k_needed: int,
    *,
    controls: Mapping[str, Decision] | None = None,
    constant: str = "raise",
) -> TaskDecisions:
    """Decide `rule` on each task, then 'holds on k of K': holds when at least
    `k_needed` tasks hold, does not hold when so many fail that `k_needed` can
    no longer be reached, inconclusive otherwise. `constant` is passed to `decide`
    (a task whose replicates all gave one value)."""
    K = len(values_by_task)
    if not 1 <= k_needed <= K:
        raise RuleError(f"k_needed={k_needed}; need 1 <= k <= {K} tasks")
    per = {
        name: decide(v, rule, control=(controls or {}).get(name), constant=constant)
        for name, v in values_by_task.items()
    }
    holds = sum(d.outcome == HOLDS for d in per.values())
    fails = sum(d.outcome == DOES_NOT_HOLD for d in per.values())
    outcome = (
        HOLDS
        if holds >= k_needed
        else DOES_NOT_HOLD
        if K - fails < k_needed
        else "inconclusive"
    )
    return TaskDecisions(rule, per, k_needed, outcome)


def paired(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """a - b per replicate (the two arms of each replicate, compared within it)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise RuleError(f"paired arms need equal 1-D shapes, got {a.shape}, {b.shape}")
    return a - b
