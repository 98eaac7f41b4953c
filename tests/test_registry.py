"""The registry: rules as data, loadable by key, attainable at every budget's n, and
changed only with a dated history entry (checked against the repository's git log).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from claimbook import claims, registry
from claimbook.evidence import Rule
from claimbook.registry import (
    RegistryError,
    check_history,
    check_rule_table,
    read_toml,
    rule,
)

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = "claimbook/registered"

GOOD = {
    "claim": "dlr-helps",
    "quantity": "slice minus one LR",
    "design": "superiority",
    "direction": "greater",
    "min_effect": 0.01,
    "method": "t",
    "n": {"small": 8, "full": 4, "mini": 2},
    "registered": "2026-12-06",
    "history": [
        {
            "date": "2026-12-06",
            "change": "registered",
            "why": "first version",
            "results_seen": False,
        }
    ],
}


def _file(**rules):
    return {"rule": rules}


def test_a_well_formed_rule_has_no_problems():
    assert check_rule_table("dlr-helps", GOOD, "x.toml") == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"n": {"small": 8}}, "needs n for each"),
        ({"n": {"small": 8, "full": 0, "mini": 2}}, "whole numbers"),
        ({"history": []}, "no history entry"),
        ({"history": [{"date": "2026-12-06"}]}, "lacks"),
        ({"claim": "dlr-ten-x"}, "must start with its claim"),
        ({"colour": "red"}, "unknown fields"),
    ],
)
def test_malformed_rules_are_named(change, problem):
    bad = dict(GOOD, **change)
    assert any(problem in p for p in check_rule_table("dlr-helps", bad, "x.toml"))


def test_a_rule_edited_without_a_history_entry_is_caught():
    old = _file(**{"dlr-helps": GOOD})
    edited = dict(GOOD, min_effect=0.02)
    problems = check_history(old, _file(**{"dlr-helps": edited}), "02.toml")
    assert len(problems) == 1
    assert "changed ['min_effect']" in problems[0]
    entry = {
        "date": "2026-12-07",
        "change": "min_effect 0.01 -> 0.02",
        "why": "the control's bound",
        "results_seen": True,
    }
    amended = dict(edited, history=GOOD["history"] + [entry])
    assert check_history(old, _file(**{"dlr-helps": amended})) == []


def test_history_is_append_only_and_new_rules_need_an_entry():
    old = _file(**{"dlr-helps": GOOD})
    rewritten = dict(GOOD, history=[dict(GOOD["history"][0], why="other words")])
    assert "was edited" in check_history(old, _file(**{"dlr-helps": rewritten}))[0]
    fresh = _file(**{"dlr-helps": GOOD, "dlr-ten-x": dict(GOOD, history=[])})
    assert "no registration entry" in check_history(old, fresh)[0]
    assert check_history(old, old) == []


def test_every_registered_rule_loads_and_names_a_known_claim():
    rules = registry.all_rules()
    assert rules, "no rules registered"
    for key, t in rules.items():
        assert t["claim"] in claims.CLAIMS, key
        chapter = claims.CLAIMS[t["claim"]][1]
        assert t["file"] == f"{chapter}.toml", f"{key} belongs in {chapter}.toml"
        if t.get("control"):
            assert t["control"] in rules, f"{key}: unknown control {t['control']}"
            assert rules[t["control"]]["design"] == "superiority", key
        for budget in registry.BUDGETS:
            r = rule(key, budget)
            assert isinstance(r, Rule)
            assert r.n == t["n"][budget]
            assert r.key == key


@pytest.mark.parametrize("budget", ["small", "full"])
def test_every_outcome_is_reachable_at_the_budgets_n(budget):
    """At the small and the full budget's n, 'holds' and 'does not hold' must both
    be reachable (the mini budget may not: there the rule says it cannot decide)."""
    stuck = {
        key: reach
        for key in registry.all_rules()
        if not all((reach := rule(key, budget).attainable()).values())
    }
    assert stuck == {}, f"unreachable outcomes at the {budget} budget's n: {stuck}"


def test_a_rule_loads_with_its_budgets_n_and_prints_its_design():
    key = next(iter(registry.all_rules()))
    small, mini = rule(key, "small"), rule(key, "mini")
    text = str(small)
    assert text.startswith(f"Rule {key} (registered ")
    assert "\n" not in text
    assert small.design_text() in text
    assert f"n={small.n}" in text
    assert small.n >= mini.n
    with pytest.raises(RegistryError, match="no rule"):
        rule("no-such-rule")
    with pytest.raises(RegistryError, match="budget"):
        rule(key, "huge")


def test_every_rule_file_is_package_data():
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["claimbook"]
    assert "registered/*.toml" in data
    assert all(p.suffix == ".toml" for p in registry.REGISTERED.iterdir())


def _git(*args) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


def _history_available() -> str | None:
    """Why the git history cannot be walked here, or None when it can."""
    if not (ROOT / ".git").exists():
        return "no git repository (an installed package): the history test needs one"
    try:
        if _git("rev-parse", "--is-shallow-repository").strip() == "true":
            return "a shallow clone: fetch the full history (fetch-depth: 0)"
    except (OSError, subprocess.CalledProcessError) as e:
        return f"git is not usable here: {e}"
    return None


def _load_at(commit: str, path: str) -> dict:
    import tomllib

    try:
        text = _git("show", f"{commit}:{path}")
    except subprocess.CalledProcessError:
        return {}
    return tomllib.loads(text)


def test_rules_changed_only_with_a_history_entry_in_git():
    """Every commit that touched a rule file, against its parent, and the working
    tree against HEAD: a rule's fields never change without a new entry."""
    why = _history_available()
    if why:
        pytest.skip(why)
    commits = _git("log", "--format=%H", "--reverse", "--", RULES_DIR).split()
    problems = []
    for c in commits:
        parents = _git("log", "-1", "--format=%P", c).split()
        files = _git("show", "--name-only", "--format=", c, "--", RULES_DIR).split()
        for path in files:
            if not Path(path).name[:2].isdigit():
                continue  # claims.toml: the inventory, not rules
            old = _load_at(parents[0], path) if parents else {}
            problems += check_history(old, _load_at(c, path), f"{c[:8]} {path}")
    for path in sorted((ROOT / RULES_DIR).glob("[0-9][0-9]_*.toml")):
        rel = str(path.relative_to(ROOT))
        problems += check_history(
            _load_at("HEAD", rel), read_toml(path), f"working tree {rel}"
        )
    assert problems == []


def _record_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name == "record":
                yield node


def _is_constant_text(node) -> bool:
    """A finding typed as a sentence: a string constant, or an f-string (or a
    concatenation) with no value computed in it."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return not any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _is_constant_text(node.left) and _is_constant_text(node.right)
    if isinstance(node, ast.IfExp):
        return _is_constant_text(node.body) or _is_constant_text(node.orelse)
    return False


def constant_findings(source: str) -> list[int]:
    """Line numbers of record(...) calls whose finding= is a constant string."""
    out = []
    for call in _record_calls(ast.parse(source)):
        for kw in call.keywords:
            if kw.arg in ("finding", "caveat") and _is_constant_text(kw.value):
                out.append(call.lineno)
    return out


def test_constant_finding_detector():
    assert constant_findings('record("x", finding="only on shapes")') == [1]
    assert constant_findings('record("x", finding=f"only on shapes")') == [1]
    assert constant_findings('claims.record("x", caveat="a" + "b")') == [1]
    assert constant_findings('record("x", finding="a" if ok else None)') == [1]
    assert constant_findings('record("x", finding=f"on {k} of {n} tasks")') == []
    assert constant_findings('record("x", finding=text, scope="shapes")') == []


def _chapters():
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("nb", _chapters(), ids=lambda p: p.stem)
def test_no_chapter_types_a_finding(nb):
    cells = json.loads(nb.read_text())["cells"]
    bad = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        src = "\n".join(
            "pass" if line.lstrip().startswith(("%", "!")) else line
            for line in src.splitlines()
        )
        if constant_findings(src):
            bad.append(i)
    assert bad == [], f"{nb.name}: cells {bad} pass a constant finding= / caveat="


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
