"""claimbook.verdictline: the printed verdict line and its parser agree."""

import pytest

from claimbook import claims, verdictline
from claimbook.verdictline import FIELDS, VERDICTS, Verdict, fmt, parse_line


def _verdict(verdict=verdictline.CAVEAT, **fields) -> Verdict:
    return Verdict(
        "fd-xent",
        "FA18 L3",
        "Cross-entropy (with a note in parentheses) — and a dash",
        verdict,
        "gap=0.001, n=16",
        **fields,
    )


@pytest.mark.parametrize("verdict", VERDICTS)
def test_every_field_survives_the_round_trip(verdict):
    values = {
        k: f"{k} text — with a dash, [a bracket] and (parentheses)" for k in FIELDS
    }
    v = _verdict(verdict, **values)
    d = parse_line(v.line())
    assert d["verdict"] == verdict
    assert (d["id"], d["source"]) == ("fd-xent", "FA18 L3")
    assert d["claim"] == v.claim
    assert d["evidence"] == "gap=0.001, n=16"
    for k in FIELDS:
        assert d[k] == values[k], k


def test_absent_fields_parse_empty_and_keep_their_order():
    v = _verdict(scope="synthetic shapes", note="why not checked")
    line = v.line()
    assert line.index(" — scope: ") < line.index(" — note: ")
    d = parse_line(line)
    assert (d["scope"], d["note"], d["interval"], d["rule"]) == (
        "synthetic shapes",
        "why not checked",
        "",
        "",
    )


def test_other_lines_are_not_verdicts():
    assert parse_line("epoch 1 loss 0.3") is None
    assert parse_line("[fails] fd-xent (FA18): x — evidence: y") is None  # not a word


def test_fmt_rounds_to_significant_digits():
    assert [fmt(x) for x in (0.123456, 1234.56, 1e-5, 123456.0, 0.0, 3)] == [
        "0.123",
        "1230",  # three significant digits, also left of the point
        "1.00e-05",
        "1.23e+05",
        "0",
        "3",
    ]


def test_claims_re_exports_the_format():
    assert claims.parse_line is parse_line
    assert claims.VERDICTS is VERDICTS
    assert claims.Verdict is Verdict
