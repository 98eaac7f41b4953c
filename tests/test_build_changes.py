"""bookbuild.changes: the rules' histories as a page of changes by date."""

from bookbuild import changes

RULES = {
    "a-claim": {
        "claim": "a-claim",
        "file": "claimbook/registered/01_x.toml",
        "history": [
            {"date": "2026-12-02", "change": "registered.", "why": "before any run"},
            {
                "date": "2026-12-06",
                "change": "n 8 -> 16",
                "why": "the verdict moved with the seed (inconclusive -> holds)",
                "results_seen": True,
            },
        ],
    },
    "b-claim": {
        "claim": "b-claim",
        "file": "claimbook/registered/00_y.toml",
        "history": [{"date": "2026-12-06", "change": "registered", "why": "new"}],
    },
}


def test_entries_are_newest_first_and_numbered():
    es = changes.entries(RULES)
    assert [(e["date"], e["rule"], e["number"]) for e in es] == [
        ("2026-12-06", "a-claim", 2),
        ("2026-12-06", "b-claim", 1),
        ("2026-12-02", "a-claim", 1),
    ]
    assert es[0]["chapter"] == "01_x"
    assert es[0]["results_seen"] is True
    assert es[1]["results_seen"] is False


def test_page_groups_by_date_then_chapter_and_links_each_rule():
    page = changes.render(RULES, {"a-claim": "a-claim"})
    assert page.startswith("# What changed\n")
    assert "**3** entries on 2 rules: 1 changes after registration; 1 made" in page
    # newest date first; within it the chapters in order
    assert page.index("## 2026-12-06") < page.index("## 2026-12-02")
    day = page.split("## 2026-12-06", 1)[1].split("## 2026-12-02", 1)[0]
    assert day.index("`00_y`") < day.index("`01_x`")
    assert "[`a-claim`](rules.md#a-claim) (change 1; results seen): n 8 -> 16." in day
    # a rule without an anchor is named, not linked; one final full stop
    assert "- `b-claim` (registered; no result seen): registered. *Why:* new" in day
    assert "registered.. " not in page


def test_no_rules():
    assert "No rule is registered yet." in changes.render({}, {})
