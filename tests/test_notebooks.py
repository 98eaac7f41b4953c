"""Structure checks on the committed chapters (nbval runs them; these read files)."""

import json
import re

import pytest
import yaml

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name), nb.name


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_and_no_errors(nb):
    assert nb.stat().st_size < 400 * 1024, f"{nb.name} is over 400 KB"
    for i, cell in enumerate(_cells(nb)):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        assert cell.get("execution_count") is not None, (
            f"{nb.name} cell {i} never executed"
        )
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", (
                f"{nb.name} cell {i} has a stored error"
            )
            text = "".join(out.get("text", "")) + "".join(
                out.get("data", {}).get("text/html", "")
            )
            assert "progress-bar" not in text, f"{nb.name} cell {i}"
            assert "<progress" not in text, f"{nb.name} cell {i}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_shape(nb):
    cells = _cells(nb)
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "code", "first cell: Colab install"
    assert "google.colab" in first, "first cell: Colab install"
    assert f"git+{repo}" in first, (
        "Colab cell must install from _config.yml's repository"
    )
    titles = [
        line
        for c in cells
        if c["cell_type"] == "markdown"
        for line in "".join(c["source"]).splitlines()
        if re.match(r"^# ", line)
    ]
    assert len(titles) == 1, f"{nb.name} needs exactly one '# ' title"
    md = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for heading in ("Learning goals", "## Verdicts", "## Exercises"):
        assert heading in md, f"{nb.name} lacks {heading!r}"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "setup(" in code
    assert "record(" in code


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_say_why(nb):
    for i, cell in enumerate(_cells(nb)):
        lines = "".join(cell["source"]).splitlines()
        for j, line in enumerate(lines):
            if line.strip() in ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP"):
                nxt = lines[j + 1].strip() if j + 1 < len(lines) else ""
                why = f"{nb.name} cell {i}: say why the output is ignored, next line"
                assert nxt.startswith("#"), why
                assert len(nxt) > 12, why
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert not tags & {"nbval-ignore-output", "nbval-skip"}, (
            "use the commented marker"
        )


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_figure_text_is_readable_as_displayed(nb):
    """Every figure went through claimbook.plotting.sharp_png (it records its
    smallest text) and no text shows under 10 CSS px in the book's column."""
    from bookbuild import figures

    figs = figures.figures(nb)
    assert [f.cell for f in figs if not f.recorded] == [], "figures without a record"
    small = {f.cell: round(f.shown_text, 1) for f in figures.too_small(figs)}
    assert small == {}, f"text under {figures.MIN_TEXT} px as displayed, by cell"


def test_toc_lists_every_notebook():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in toc, f"{nb.name} missing from _toc.yml"


def test_config_builds_toc_files_from_committed_outputs():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["only_build_toc_files"] is True
    # the book shows the committed outputs that nbval checked: it never re-executes
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["launch_buttons"]["colab_url"]
    assert cfg["launch_buttons"]["binderhub_url"]
