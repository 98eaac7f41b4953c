import re

import pytest

from claimbook import claims
from claimbook.claims import (
    CAVEAT,
    FAILS,
    HOLDS,
    NOT_CHECKED,
    OUTDATED,
    ClaimError,
    VerdictMismatch,
    fmt,
    parse_line,
    record,
    verdict_word,
)


@pytest.mark.parametrize(
    ("holds", "caveat", "held_then", "expected"),
    [
        (True, None, None, HOLDS),
        (True, "only for X", None, CAVEAT),
        (True, None, True, HOLDS),
        (False, None, None, FAILS),
        (False, None, False, FAILS),
        (False, None, True, OUTDATED),
        (False, "a note", True, OUTDATED),
        (None, None, None, NOT_CHECKED),
        (None, "needs a GPU", None, NOT_CHECKED),
    ],
)
def test_decide_every_outcome(holds, caveat, held_then, expected):
    assert verdict_word(holds, caveat=caveat, held_then=held_then) == expected


def test_decide_rejects_holds_now_but_not_then():
    with pytest.raises(ClaimError):
        verdict_word(True, held_then=False)


@pytest.mark.parametrize(
    ("x", "out"),
    [
        (0.0, "0"),
        (1.23456, "1.23"),
        (0.0123456, "0.0123"),
        (123456.0, "1.23e+05"),
        (2e-7, "2.00e-07"),
        (3, "3"),
        (True, "True"),
        (float("nan"), "nan"),
        (-0.5, "-0.500"),
    ],
)
def test_fmt(x, out):
    assert fmt(x) == out


def test_below_prints_the_value_with_its_bound():
    assert claims.below(2.44e-7, 1e-6) == "2.4e-07 (< 1e-06)"
    assert claims.below(-2.44e-7, 1e-6) == "-2.4e-07 (< 1e-06)"
    assert claims.below(0.0, 4.44e-16) == "0 (< 4.4e-16)"
    assert claims.below(0.5, 1e-6) == "0.50 (over 1e-06)"
    assert claims.below(1e-6, 1e-6) == "1.0e-06 (over 1e-06)"  # the bound is strict
    with pytest.raises(ValueError, match="positive"):
        claims.below(0.0, 0.0)


def test_within_words_the_check_without_the_noise():
    """For findings, which stay the same under another seed: only the bound."""
    assert claims.within(2.44e-7, 1e-3) == claims.within(-9e-4, 1e-3) == "under 0.001"
    assert claims.within(0.5, 1e-3) == "0.50"
    with pytest.raises(ValueError, match="positive"):
        claims.within(0.0, -1.0)


def test_record_prints_one_parsable_line(capsys):
    v = record(
        "fd-xent", holds=True, evidence={"diff": 1.234567e-9, "n": 3}, expect=HOLDS
    )
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    d = parse_line(out.strip())
    assert d["id"] == "fd-xent"
    assert d["verdict"] == HOLDS
    assert d["source"] == "FA18 L2, L5"
    assert d["evidence"] == "diff=1.23e-09, n=3"
    assert d["note"] == ""
    assert v.verdict == HOLDS
    assert claims.RECORDED["fd-xent"] == v


def test_record_with_scope_and_finding_roundtrips(capsys):
    v = record(
        "fd-y-range",
        holds=True,
        evidence="gap=0.1 (rmse)",
        scope="synthetic ratings, 3 epochs",
        finding="better on 2 of 3 tasks",
    )
    d = parse_line(capsys.readouterr().out)
    assert v.verdict == d["verdict"] == CAVEAT
    assert d["evidence"] == "gap=0.1 (rmse)"
    assert d["scope"] == "synthetic ratings, 3 epochs"
    assert d["finding"] == "better on 2 of 3 tasks"


def test_then_names_where_the_2018_side_comes_from(capsys):
    v = record(
        "dlr-slice-single",
        holds=False,
        held_then=True,
        evidence="x",
        then="measured on fastai 1.0.28's code",
    )
    d = parse_line(capsys.readouterr().out)
    assert v.verdict == d["verdict"] == OUTDATED
    assert d["then"] == "measured on fastai 1.0.28's code"
    assert d["note"] == ""


def test_scope_alone_does_not_make_a_caveat(capsys):
    v = record("fd-y-range", holds=True, evidence="x", scope="synthetic ratings")
    assert v.verdict == HOLDS
    assert parse_line(capsys.readouterr().out)["scope"] == "synthetic ratings"


def test_record_guard_fails_on_changed_verdict(capsys):
    with pytest.raises(VerdictMismatch, match="measured 'does not hold'"):
        record("dlr-slice-single", holds=False, evidence="x", expect=OUTDATED)
    assert "[does not hold] dlr-slice-single" in capsys.readouterr().out


def test_record_rejects_unknown_ids_and_verdicts():
    with pytest.raises(ClaimError, match="unknown claim"):
        record("no-such-claim", holds=True, evidence="")
    with pytest.raises(ClaimError, match="not a verdict"):
        record("fd-xent", holds=True, evidence="", expect="maybe")


def test_parse_line_ignores_other_output():
    assert parse_line("epoch 1 loss 0.3") is None
    assert parse_line("[holds] fd-xent (x): no evidence marker") is None


def test_summary_markdown_lists_recorded():
    v = claims.Verdict("fd-xent", "FA18", "c", HOLDS, "a|b")
    md = claims.summary_markdown([v])
    assert "| `fd-xent` | FA18 | **holds** | a\\|b |" in md


def _shared_rows(repo_root):
    shared = repo_root.parent / "shared" / "claims.md"
    if not shared.exists():
        pytest.skip("shared/claims.md is not beside this checkout")
    return re.findall(
        r"^\| ([a-z]+-[a-z0-9-]+) \| ([^|]+) \| (.+) \|$", shared.read_text(), re.M
    )


def test_inventory_matches_shared_claims_both_ways(repo_root):
    rows = _shared_rows(repo_root)
    ids = [cid for cid, _, _ in rows]
    assert len(ids) == len(set(ids)), "an ID is listed twice in shared/claims.md"
    assert set(ids) - set(claims.CLAIMS) == set(), "in shared/claims.md only"
    assert set(claims.CLAIMS) - set(ids) == set(), "in the package's inventory only"
    assert list(claims.CLAIMS) == ids, "the inventory keeps shared/claims.md's order"
    for cid, src, text in rows:
        assert claims.CLAIMS[cid][0] == src.strip(), cid
        # the paraphrases too, once the inventory's markdown (`code`, *emphasis*) is off
        plain = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"\1", text.replace("`", ""))
        assert claims.CLAIMS[cid][2] == plain.strip(), cid


def test_inventory_is_package_data():
    from claimbook import registry

    assert registry.INVENTORY.is_file()
    assert registry.INVENTORY.parent.name == "registered"
    assert len(registry.load_inventory()) == len(claims.CLAIMS) >= 96


def test_inventory_rejects_malformed_rows():
    from claimbook.registry import RegistryError, parse_inventory

    row = {"id": "a-b", "source": "FA18", "chapter": "01_x", "text": "T."}
    assert parse_inventory({"claim": [row]}) == {"a-b": ("FA18", "01_x", "T.")}
    with pytest.raises(RegistryError, match="listed twice"):
        parse_inventory({"claim": [row, row]})
    with pytest.raises(RegistryError, match="lacks"):
        parse_inventory({"claim": [{"id": "a-b"}]})
    with pytest.raises(RegistryError, match="no"):
        parse_inventory({})


def test_every_claim_has_a_known_source():
    for cid, (src, chapter, text) in claims.CLAIMS.items():
        assert src.split()[0] in claims.BIBLIOGRAPHY, cid
        assert re.fullmatch(r"\d\d_[a-z_]+", chapter), cid
        assert text.endswith("."), cid
