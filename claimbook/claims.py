"""Recording verdicts on the notes' claims, and the inventory they come from.

Introduced in chapter 00 (Start here). One call, `record(...)`, turns measured
evidence into a verdict for one claim ID and prints it as one stable line that
nbval compares and from which the book's ledger page is generated.

For a claim decided by an experiment, pass the `Decision` that
`claimbook.evidence` made from the replicates (`decision=`): the verdict then
follows from the effect's interval against the rule declared before the
measurement, and the line prints the effect, the interval, the replicates and
the rule.

The line's format (the verdict words, number formatting, the parser the build
tools use) is `claimbook.verdictline`; its names are re-exported here.

The inventory mirrors ``shared/claims.md`` (IDs, sources, our paraphrases); a
unit test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping

from .registry import load_inventory
from .verdictline import (  # noqa: F401  (the verdict words and line, re-exported)
    CAVEAT,
    FAILS,
    FIELDS,
    HOLDS,
    INCONCLUSIVE,
    LINE_RE,
    NOT_CHECKED,
    OUTDATED,
    VERDICTS,
    Verdict,
    below,
    fmt,
    format_evidence,
    parse_line,
    within,
)

BIBLIOGRAPHY = {
    "FA18": "fast.ai Part 1 v3 (2018) lesson notes",
    "TIL21": "'This Week I Learned' blog post, week 30 of 2021",
    "KR19": "reading notes on Karpathy's 'A Recipe for Training Neural Networks' "
    "(2019)",
    "INT20": "notes quoting 'The Building Blocks of Interpretability' (Distill 2018)",
}

# id: (source, chapter, paraphrase), in the inventory's order. The inventory is
# data (`claimbook/registered/claims.toml`, shipped with the package); a unit test
# checks it against ``shared/claims.md`` both ways when that file is beside the
# checkout.
CLAIMS: dict[str, tuple[str, str, str]] = load_inventory()


class ClaimError(ValueError):
    """An unknown claim ID or an impossible combination of evidence."""


class VerdictMismatch(AssertionError):
    """The measured verdict differs from the one the chapter expects (a regression)."""


def verdict_word(
    holds_now: bool | None,
    *,
    finding: str | None = None,
    held_then: bool | None = None,
    decision=None,
    caveat: str | None = None,
) -> str:
    """The verdict word as a function of what was measured.

    (Deciding an experiment is `claimbook.evidence.decide`, the book's one
    `decide`: it turns replicates into an outcome; this turns an outcome, or an
    exact check's result, into the word the book prints.)

    * ``decision`` given (an experiment's `Decision` or `TaskDecisions`): its
      outcome decides; ``inconclusive`` -> inconclusive on this budget;
      ``undecidable`` (no outcome reachable at this n) or ``not checked`` (its
      control missed the bar) -> not checked on this budget; ``holds`` -> holds
      (with a caveat if there is a finding); ``does not hold`` -> does not hold (or
      outdated with ``held_then``).
    * ``holds_now`` is None: nothing was measured on this budget -> not checked.
    * holds now with a **finding** (a measured limit: the claim holds only on
      some tasks, only under a condition the experiment found) -> holds with a
      caveat. The **scope** (the experiment's fixed conditions: synthetic data,
      a small model) never changes the verdict word: every verdict has a scope.
    * holds now, no finding -> holds.
    * fails now but the measurement shows it held for the library of the notes'
      time (``held_then=True``) -> outdated.
    * fails now otherwise -> does not hold.

    ``caveat`` is the former name of ``finding`` (kept for one release).
    """
    finding = finding or caveat
    if decision is not None:
        if decision.outcome == "inconclusive":
            return INCONCLUSIVE
        if decision.outcome in ("undecidable", "not checked"):
            return NOT_CHECKED
        holds_now = decision.outcome == "holds"
    if holds_now is None:
        return NOT_CHECKED
    if holds_now:
        if held_then is False:
            raise ClaimError(
                "a claim that holds now but did not then is not a verdict we have"
            )
        return CAVEAT if finding else HOLDS
    return OUTDATED if held_then else FAILS


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
    scope: str | None = None,
    finding: str | None = None,
    held_then: bool | None = None,
    then: str | None = None,
    decision=None,
    reason: str | None = None,
    expect: str | None = None,
    sig: int = 3,
    caveat: str | None = None,
) -> Verdict:
    """Decide, print one verdict line, and guard it.

    `evidence` is the measurement that decided it (a dict of named numbers is
    rounded to `sig` significant digits). `decision` (from `claimbook.evidence`:
    a `Decision` or a `TaskDecisions`) decides an experiment's verdict from its
    interval against the registered rule; `holds` must then be None. Its control,
    when the rule has one, is printed beside it.

    `scope`: the fixed conditions of the experiment (what it ran on), shown as
    such; it never changes the verdict word. `finding`: a measured limit of the
    claim, built from the numbers in code (an f-string over measured values,
    never a constant sentence; a unit test checks the chapters); it turns
    "holds" into "holds with a caveat". `reason`: why a claim is not checked.
    `then`: where the 2018 side of `held_then` comes from, in words that name it
    ("measured on fastai 1.0.28's code", "emulated: ...", "from the changelog,
    2018-11-27"); printed in the line and shown by the ledger.

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
    if caveat is not None and finding is not None:
        raise ClaimError("caveat= is finding='s former name; pass one")
    finding = finding if finding is not None else caveat
    source, _, text = CLAIMS[claim_id]
    verdict = verdict_word(
        holds, finding=finding, held_then=held_then, decision=decision
    )
    note = reason or ""
    if decision is not None and getattr(decision, "reason", ""):
        note = decision.reason + (f"; {note}" if note else "")
    if verdict == NOT_CHECKED and not note:
        raise ClaimError(f"{claim_id}: a claim not checked needs reason= (why not)")
    control = ""
    if decision is not None and hasattr(decision, "control_text"):
        control = decision.control_text()
    v = Verdict(
        claim_id,
        source,
        text,
        verdict,
        format_evidence(evidence, sig),
        note,
        decision.interval_text() if decision is not None else "",
        decision.rule.describe() if decision is not None else "",
        control,
        scope or "",
        finding or "",
        then or "",
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
