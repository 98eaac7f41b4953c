"""The verdict line: the one printed format a verdict takes, and its parser.

`claimbook.claims.record` prints one line per verdict; nbval compares it, and the
book's build tools (`bookbuild.ledger`, `bookbuild.callouts`) and the canary parse
it back with `parse_line`. This module is that format alone (the verdict words,
number formatting, the `Verdict` record and its line, the regular expression), so
that a reader of the format and a writer of it share one definition. It imports
nothing from the package.

    [<verdict>] <id> (<source>): <claim> — evidence: <evidence>[ — <field>: <value>]...

with the optional fields in the fixed order of `FIELDS`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

HOLDS = "holds"
CAVEAT = "holds with a caveat"
OUTDATED = "outdated"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive on this budget"
NOT_CHECKED = "not checked on this budget"
VERDICTS = (HOLDS, CAVEAT, OUTDATED, FAILS, INCONCLUSIVE, NOT_CHECKED)


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
    """A float-noise quantity with the bound it is checked against: '2.4e-07 (< 1e-06)'
    when under `tol`, '0.0213 (over 1e-06)' when not.

    The value is rounded to 2 significant digits: rounding noise of this size is
    reproducible on one kind of CPU with fixed threads (strict nbval runs only on the
    kind the outputs were made on), not across kinds."""
    x, tol = float(x), float(tol)
    if not tol > 0:
        raise ValueError(f"tol={tol}; a tolerance is positive")
    if abs(x) < tol:
        return f"{fmt(x, 2)} (< {tol:.2g})"
    return f"{fmt(x, 2)} (over {tol:.2g})"


def within(x: float, tol: float) -> str:
    """The same check worded for a finding, which must not move with the seed:
    'under 0.001' when ``|x| < tol``, else the value (`below` prints the value too).
    """
    x, tol = float(x), float(tol)
    if not tol > 0:
        raise ValueError(f"tol={tol}; a tolerance is positive")
    return f"under {tol:.2g}" if abs(x) < tol else fmt(x, 2)


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
    note: str = ""  # why a claim is not checked (the control's miss, the n)
    interval: str = ""  # effect [low, high] (confidence, n), for experiments
    rule: str = ""  # the registered rule: design, test, n, aggregation
    control: str = ""  # the control's interval and outcome, decided first
    scope: str = ""  # the experiment's fixed conditions
    finding: str = ""  # a measured limit, built from the numbers
    then: str = ""  # where the 2018 side comes from (its code, an emulation, ...)

    def line(self) -> str:
        parts = [
            f"[{self.verdict}] {self.claim_id} ({self.source}): {self.claim}",
            f"evidence: {self.evidence}",
        ]
        for key in FIELDS:
            if getattr(self, key):
                parts.append(f"{key}: {getattr(self, key)}")
        return " — ".join(parts)


LINE_RE = re.compile(
    r"^\[(?P<verdict>" + "|".join(VERDICTS) + r")\] (?P<id>[a-z0-9-]+) "
    r"\((?P<source>[^)]*)\): (?P<claim>.*?) — evidence: (?P<evidence>.*)$"
)
FIELDS = ("interval", "control", "rule", "scope", "finding", "then", "note")


def parse_line(line: str) -> dict | None:
    """The fields of a printed verdict line, or None for any other line."""
    m = LINE_RE.match(line.strip())
    if not m:
        return None
    d = m.groupdict()
    rest = d["evidence"]
    fields = {k: "" for k in FIELDS}
    # the optional fields follow the evidence in FIELDS' order
    for key in reversed(FIELDS):
        rest, sep, value = rest.rpartition(f" — {key}: ")
        if sep:
            fields[key] = value
        else:
            rest = value
    d["evidence"] = rest
    d.update(fields)
    return d
