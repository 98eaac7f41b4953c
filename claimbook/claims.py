"""Recording verdicts on the notes' claims, and the inventory they come from.

Introduced in chapter 00 (Start here). One call, `record(...)`, turns measured
evidence into a verdict for one claim ID and prints it as one stable line that
nbval compares and from which the book's ledger page is generated.

For a claim decided by an experiment, pass the `Decision` that
`claimbook.evidence` made from the replicates (`decision=`): the verdict then
follows from the effect's interval against the rule declared before the
measurement, and the line prints the effect, the interval, the replicates and
the rule.

The inventory mirrors ``shared/claims.md`` (IDs, sources, our paraphrases); a
unit test keeps the two in step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from .evidence import Decision

HOLDS = "holds"
CAVEAT = "holds with a caveat"
OUTDATED = "outdated"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive on this budget"
NOT_CHECKED = "not checked on this budget"
VERDICTS = (HOLDS, CAVEAT, OUTDATED, FAILS, INCONCLUSIVE, NOT_CHECKED)

BIBLIOGRAPHY = {
    "FA18": "fast.ai Part 1 v3 (2018) lesson notes",
    "TIL21": "'This Week I Learned' blog post, week 30 of 2021",
    "KR19": "reading notes on Karpathy's 'A Recipe for Training Neural Networks' "
    "(2019)",
    "INT20": "notes quoting 'The Building Blocks of Interpretability' (Distill 2018)",
}

# id: (source, chapter, paraphrase)
CLAIMS: dict[str, tuple[str, str, str]] = {
    # 01_lr_finder
    "lrf-after-unfreeze": (
        "FA18 L1, L3",
        "01_lr_finder",
        "Run the LR finder again after unfreezing; the curve then has a very "
        "different shape.",
    ),
    "lrf-rule-of-thumb": (
        "FA18 L3",
        "01_lr_finder",
        "Read the LR off the finder: about 10x below the point where the loss "
        "starts to shoot up (the note gives this for the first half of the slice "
        "after unfreezing, see dlr-unfreeze-rule; here it is the common single-LR "
        "reading).",
    ),
    "lrf-try-10x": (
        "FA18 L5",
        "01_lr_finder",
        "Also try 10x lower and 10x higher than the LR you first pick.",
    ),
    "lrf-auto-heuristic": (
        "FA18 L3",
        "01_lr_finder",
        "Open project: find a heuristic that picks a good LR from the finder's "
        "curve automatically across tasks.",
    ),
    "lrf-too-high-too-low": (
        "FA18 L2",
        "01_lr_finder",
        "The two biggest training failures are an LR too high or too low (and too "
        "many / too few epochs).",
    ),
    "lrf-warmup": (
        "FA18 L3",
        "01_lr_finder",
        "Gradually increasing the LR lets training explore and find flatter, lower "
        "regions faster.",
    ),
    # 02_discriminative_lrs
    "dlr-slice-pair": (
        "FA18 L5",
        "02_discriminative_lrs",
        "slice(a, b): first layer group gets a, last gets b, groups between are "
        "equally distributed between them.",
    ),
    "dlr-slice-single": (
        "FA18 L5",
        "02_discriminative_lrs",
        "slice(b): last group gets b, all other groups get b/3.",
    ),
    "dlr-single-float": (
        "FA18 L5",
        "02_discriminative_lrs",
        "A single number gives every group the same LR.",
    ),
    "dlr-ten-x": (
        "FA18 L1",
        "02_discriminative_lrs",
        "In slice(a, b), b should be about 10x a (the note's own example, "
        "slice(1e-6, 1e-4), is 100x).",
    ),
    "dlr-unfreeze-rule": (
        "FA18 L3",
        "02_discriminative_lrs",
        "After unfreezing: first half of the slice ~10x below where the finder's "
        "loss shoots up; second half = previous LR / 5 or / 10.",
    ),
    "dlr-layer-groups": (
        "FA18 L5",
        "02_discriminative_lrs",
        "The library splits a ResNet into layer groups automatically; each group "
        "gets its own LR.",
    ),
    "dlr-freeze": (
        "FA18 L5",
        "02_discriminative_lrs",
        "freeze() freezes everything except the new randomly initialised head.",
    ),
    "dlr-ulmfit-26": (
        "FA18 L4",
        "02_discriminative_lrs",
        "For text models the LR changes in steps of 2.6**4 from layer to layer (why "
        "the LR is divided by 2.6**4), a factor found by experiment.",
    ),
    "dlr-helps": (
        "FA18 L5",
        "02_discriminative_lrs",
        "Training later layers harder than early layers is better for fine-tuning a "
        "pretrained model.",
    ),
    # 03_hooks_heatmaps
    "hk-shape-512-11": (
        "FA18 L6",
        "03_hooks_heatmaps",
        "For a ResNet-34 on the lesson's images the last conv layer gives 512 x 11 "
        "x 11 activations.",
    ),
    "hk-heatmap-mean": (
        "FA18 L6",
        "03_hooks_heatmaps",
        "Averaging those activations over the channels gives a heatmap of where the "
        "network looked.",
    ),
    "hk-forward-hook": (
        "FA18 L6",
        "03_hooks_heatmaps",
        "A forward hook lets you store a layer's activations during the forward pass.",
    ),
    "hk-remove": (
        "FA18 L6",
        "03_hooks_heatmaps",
        "A hook that is not removed keeps storing outputs on every forward pass; a "
        "with block removes it.",
    ),
    "hk-pool-head": (
        "FA18 L6",
        "03_hooks_heatmaps",
        "The head averages each channel (average pooling) and multiplies the "
        "512-vector by a 512 x classes matrix.",
    ),
    "int-attribution": (
        "INT20",
        "03_hooks_heatmaps",
        "Attribution to spatial locations and channels reveals what a model uses, "
        "but must be made human-scale to be useful.",
    ),
    "int-fool": (
        "INT20",
        "03_hooks_heatmaps",
        "Optimising a model to look right in an interpretability interface can make "
        "the interface fool us.",
    ),
    # 04_dataloader_seeding
    "dl-seed-bug": (
        "TIL21",
        "04_dataloader_seeding",
        "With NumPy randomness in __getitem__ and several workers, each worker "
        'produces the same "random" numbers.',
    ),
    "dl-seed-fix": (
        "TIL21",
        "04_dataloader_seeding",
        "Fix: worker_init_fn calling np.random.seed(np.random.get_state()[1][0] + "
        "worker_id).",
    ),
    "dl-synthetic-gt": (
        "TIL21",
        "04_dataloader_seeding",
        "Synthetic data always comes with ground truth (location, segmentation) for "
        "free.",
    ),
    # 05_training_recipe
    "kr-loss-at-init": (
        "KR19",
        "05_training_recipe",
        "Verify the loss at initialisation (the note gives the heading; Karpathy's "
        "post: for C balanced classes, about ln C).",
    ),
    "kr-overfit-one-batch": (
        "KR19",
        "05_training_recipe",
        "A correct model and pipeline can drive the loss on one small batch to near "
        "zero.",
    ),
    "kr-backprop-deps": (
        "KR19",
        "05_training_recipe",
        "Backprop from example i's outputs must give non-zero gradient only on "
        "input i; this catches view-instead-of-permute bugs that mix the batch.",
    ),
    "kr-fix-seed": (
        "KR19",
        "05_training_recipe",
        "Fixing the random seed makes runs reproducible.",
    ),
    "kr-input-independent": (
        "KR19",
        "05_training_recipe",
        "An input-independent baseline (the post: inputs zeroed) must do worse than "
        "the real model.",
    ),
    "kr-adam-safe": (
        "KR19",
        "05_training_recipe",
        "Adam is safe (the note gives the heading; Karpathy's post: Adam at 3e-4 "
        "forgives a poorly chosen LR, unlike SGD).",
    ),
    "fa-val-loss-fallacy": (
        "FA18 L2",
        "05_training_recipe",
        "Validation loss much higher than training loss is not by itself "
        "overfitting; only a worsening error rate is.",
    ),
    "fa-train-gt-val": (
        "FA18 L2",
        "05_training_recipe",
        "You never want training loss higher than validation loss.",
    ),
    "fa-hard-to-overfit": (
        "FA18 L2",
        "05_training_recipe",
        "It is very hard to overfit with deep learning.",
    ),
    "fa-unbalanced": (
        "FA18 L2",
        "05_training_recipe",
        "Unbalanced data (e.g. 200 vs 50) usually works fine.",
    ),
    "fa-normalize": (
        "FA18 L1",
        "05_training_recipe",
        "Un-normalised inputs make a model hard to train.",
    ),
    "fa-high-loss": (
        "FA18 L1",
        "05_training_recipe",
        "A high loss means a confident but wrong prediction.",
    ),
    "fa-fp16": (
        "FA18 L3",
        "05_training_recipe",
        "Mixed precision trains about twice as fast and uses less GPU memory.",
    ),
    # 06_foundations
    "fd-embedding-onehot": (
        "FA18 L5",
        "06_foundations",
        "Multiplying by a one-hot matrix is identical to an array lookup (an "
        "embedding).",
    ),
    "fd-conv-matmul": (
        "FA18 L6",
        "06_foundations",
        "A convolution is a matrix multiplication over image patches.",
    ),
    "fd-kernel-rank4": (
        "FA18 L6",
        "06_foundations",
        "Conv kernels are a rank-4 tensor [out, in, h, w]; one 3-D kernel per "
        "output channel.",
    ),
    "fd-stride2": (
        "FA18 L6",
        "06_foundations",
        "Stride 2 halves height and width; modern nets double the channels at the "
        "same time.",
    ),
    "fd-dropout": (
        "FA18 L6",
        "06_foundations",
        "Dropout removes activations with probability p in training only; at test "
        "time nothing is dropped.",
    ),
    "fd-batchnorm": (
        "FA18 L6",
        "06_foundations",
        "BatchNorm normalises by batch mean/variance then applies a learned scale "
        'and shift; its "momentum" is an EWMA of running statistics, not optimiser '
        "momentum.",
    ),
    "fd-momentum-ewma": (
        "FA18 L5",
        "06_foundations",
        "SGD momentum is an exponentially weighted moving average of gradients.",
    ),
    "fd-adam": (
        "FA18 L5",
        "06_foundations",
        "Adam combines momentum and RMSProp.",
    ),
    # 00_start_here
    "fd-xent": (
        "FA18 L2, L5",
        "00_start_here",
        "Cross-entropy with softmax penalises confident wrong and unconfident right "
        "predictions; outputs must sum to one.",
    ),
    # 06_foundations
    "fd-weight-decay": (
        "FA18 L5",
        "06_foundations",
        "Weight decay is L2 regularisation: a penalty on the sum of squared weights.",
    ),
    # 00_start_here
    "fd-onehot-rank": (
        "FA18 L2",
        "00_start_here",
        '"Rank" of a tensor is its number of axes; a trailing underscore means the '
        "method updates in place and does not return a result.",
    ),
    # 06_foundations
    "fd-y-range": (
        "FA18 L4, L5",
        "06_foundations",
        "A sigmoid output scaled to a range slightly wider than the targets' "
        "min/max works better.",
    ),
    "fd-upsample": (
        "FA18 L7",
        "06_foundations",
        "A transposed conv with stride 1/2 doubles the grid; nearest-neighbour "
        "upsampling then a stride-1 conv is the better way.",
    ),
    "fd-rnn-fc": (
        "FA18 L7",
        "06_foundations",
        "An RNN is a refactored fully connected network with shared weights.",
    ),
    "fd-resnet-depth": (
        "FA18 L7",
        "06_foundations",
        "Without skip connections a deeper plain net can have higher training error "
        "than a shallower one; skips fix it.",
    ),
}


class ClaimError(ValueError):
    """An unknown claim ID or an impossible combination of evidence."""


class VerdictMismatch(AssertionError):
    """The measured verdict differs from the one the chapter expects (a regression)."""


def decide(
    holds_now: bool | None,
    *,
    caveat: str | None = None,
    held_then: bool | None = None,
    decision: Decision | None = None,
) -> str:
    """The verdict as a function of what was measured.

    * ``decision`` given (an experiment): its outcome decides; ``inconclusive``
      -> inconclusive on this budget, ``holds`` -> holds (with the caveat if
      any), ``fails`` -> does not hold (or outdated with ``held_then``).
    * ``holds_now`` is None: nothing was measured on this budget -> not checked.
    * holds now, with a caveat (a condition, a narrower scope) -> holds with a caveat.
    * holds now, no caveat -> holds.
    * fails now but the measurement shows it held for the library of the notes'
      time (``held_then=True``) -> outdated.
    * fails now otherwise -> does not hold.
    """
    if decision is not None:
        if decision.outcome == "inconclusive":
            return INCONCLUSIVE
        holds_now = decision.outcome == "holds"
    if holds_now is None:
        return NOT_CHECKED
    if holds_now:
        if held_then is False:
            raise ClaimError(
                "a claim that holds now but did not then is not a verdict we have"
            )
        return CAVEAT if caveat else HOLDS
    return OUTDATED if held_then else FAILS


def fmt(x, sig: int = 3) -> str:
    """A number rounded to `sig` significant digits, printed stably."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        if x == 0:
            return "0"
        digits = sig - int(math.floor(math.log10(abs(x)))) - 1
        y = round(x, digits)
        if y == 0:
            return "0"
        if 1e-3 <= abs(y) < 1e5:
            return f"{y:.{max(digits, 0)}f}"
        return f"{y:.{sig - 1}e}"
    if hasattr(x, "item"):  # numpy / torch scalars
        return fmt(x.item(), sig)
    return str(x)


def below(x: float, tol: float) -> str:
    """A float-noise quantity printed stably: '<1e-06' when under `tol`, else its value.

    Use it for differences that are rounding noise (they vary across CPUs)."""
    return f"<{tol:.3g}" if abs(float(x)) < tol else fmt(float(x))


def format_evidence(evidence: Mapping[str, object] | str, sig: int = 3) -> str:
    if isinstance(evidence, str):
        return evidence
    return ", ".join(f"{k}={fmt(v, sig)}" for k, v in evidence.items())


@dataclass(frozen=True)
class Verdict:
    claim_id: str
    source: str
    claim: str
    verdict: str
    evidence: str
    note: str = ""
    interval: str = ""  # effect [low, high] (confidence, n), for experiments
    rule: str = ""  # the rule declared before the measurement

    def line(self) -> str:
        parts = [
            f"[{self.verdict}] {self.claim_id} ({self.source}): {self.claim}",
            f"evidence: {self.evidence}",
        ]
        if self.interval:
            parts.append(f"interval: {self.interval}")
        if self.rule:
            parts.append(f"rule: {self.rule}")
        if self.note:
            parts.append(f"note: {self.note}")
        return " — ".join(parts)


LINE_RE = re.compile(
    r"^\[(?P<verdict>" + "|".join(VERDICTS) + r")\] (?P<id>[a-z0-9-]+) "
    r"\((?P<source>[^)]*)\): (?P<claim>.*?) — evidence: (?P<evidence>.*)$"
)
_FIELDS = ("interval", "rule", "note")

# The guard's mode, set by `setup()`: on the reference setting (small budget,
# default seed) a verdict that differs from `expect` raises; elsewhere it is
# reported beside the committed one.
_REFERENCE = {"strict": True, "label": "small budget, default seed"}


def set_reference(strict: bool, label: str) -> None:
    """Make `expect=` raise (`strict`) or report a different verdict (`label` names
    the setting of this run). Called by `setup()` from the budget."""
    _REFERENCE.update(strict=bool(strict), label=label)


def record(
    claim_id: str,
    *,
    holds: bool | None = None,
    evidence: Mapping[str, object] | str = "",
    caveat: str | None = None,
    held_then: bool | None = None,
    decision: Decision | None = None,
    expect: str | None = None,
    sig: int = 3,
) -> Verdict:
    """Decide, print one verdict line, and guard it.

    `evidence` is the measurement that decided it (a dict of named numbers is
    rounded to `sig` significant digits). `decision` (from `claimbook.evidence`)
    decides an experiment's verdict from its interval; `holds` must then be None.
    `caveat` (the condition under which the claim holds) is printed last.
    `expect`, when given, is the verdict the committed chapter found: a different
    result raises VerdictMismatch after printing, so it fails even in lax nbval.
    Off the reference setting (see `set_reference`) it prints the committed
    verdict beside the new one instead, and the chapter goes on.
    """
    if claim_id not in CLAIMS:
        raise ClaimError(f"unknown claim ID {claim_id!r}; see claimbook.claims.CLAIMS")
    if expect is not None and expect not in VERDICTS:
        raise ClaimError(f"expect={expect!r} is not a verdict; use one of {VERDICTS}")
    if decision is not None and holds is not None:
        raise ClaimError("pass either holds= or decision=, not both")
    source, _, text = CLAIMS[claim_id]
    verdict = decide(holds, caveat=caveat, held_then=held_then, decision=decision)
    v = Verdict(
        claim_id,
        source,
        text,
        verdict,
        format_evidence(evidence, sig),
        caveat or "",
        decision.interval_text() if decision is not None else "",
        decision.rule.describe() if decision is not None else "",
    )
    print(v.line())
    RECORDED[claim_id] = v
    if expect is not None and verdict != expect:
        if _REFERENCE["strict"]:
            raise VerdictMismatch(
                f"{claim_id}: measured {verdict!r}, chapter expects {expect!r}"
            )
        print(
            f"  (differs from the committed chapter, which found {expect!r} on the "
            f"small budget at the default seed; this run: {_REFERENCE['label']})"
        )
    return v


RECORDED: dict[str, Verdict] = {}  # this kernel's verdicts, for a chapter's summary


def summary_markdown(verdicts=None) -> str:
    """A markdown table of verdicts (default: those recorded in this process)."""
    rows = ["| claim | source | verdict | evidence |", "|---|---|---|---|"]
    for v in verdicts if verdicts is not None else RECORDED.values():
        ev = v.evidence + (f"; effect {v.interval}" if v.interval else "")
        ev = ev.replace("|", "\\|")
        rows.append(f"| `{v.claim_id}` | {v.source} | **{v.verdict}** | {ev} |")
    return "\n".join(rows)


def summary(verdicts=None):
    """The chapter's verdict table, rendered as markdown in a notebook."""
    from IPython.display import Markdown

    return Markdown(summary_markdown(verdicts))


def parse_line(line: str) -> dict | None:
    """The fields of a printed verdict line, or None for any other line."""
    m = LINE_RE.match(line.strip())
    if not m:
        return None
    d = m.groupdict()
    rest = d["evidence"]
    fields = {k: "" for k in _FIELDS}
    # the optional fields follow the evidence in a fixed order: interval, rule, note
    for key in reversed(_FIELDS):
        rest, sep, value = rest.rpartition(f" — {key}: ")
        if sep:
            fields[key] = value
        else:
            rest = value
    d["evidence"] = rest
    d.update(fields)
    return d
