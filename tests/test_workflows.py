"""The public CI (.github/workflows): what each workflow runs, its permissions and
pins, and the workflow linters `make lint` runs (check-jsonschema, zizmor; both from
the lock, both offline) on these files and on a broken one."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
# `uses: owner/repo@<commit> # vX.Y.Z`: a full commit, with the release it is.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _load(name):
    wf = yaml.safe_load((WORKFLOWS / name).read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as True
    return wf


def _steps(wf):
    return [s for job in wf["jobs"].values() for s in job["steps"]]


def _runs(wf):
    return "\n".join(s.get("run", "") for s in _steps(wf))


def _uploads(wf):
    return {
        s["with"]["path"]
        for s in _steps(wf)
        if s.get("uses", "").startswith("actions/upload-artifact@")
    }


def test_every_workflow_has_minimal_permissions_and_pinned_actions():
    files = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert files == ["canary.yml", "test.yml"]
    for name in files:
        wf = _load(name)
        assert wf["permissions"] == {}, name  # nothing by default
        for job in wf["jobs"].values():
            assert job.get("permissions") == {"contents": "read"}, name
            assert job.get("timeout-minutes"), name
        for line in (WORKFLOWS / name).read_text().splitlines():
            if "uses:" in line:
                ref = line.split("uses:", 1)[1].strip()
                assert PINNED.match(ref), (name, ref)
        for step in _steps(wf):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_test_workflow_runs_make_test_with_debian_chromium():
    wf = _load("test.yml")
    assert set(wf["on"]) == {"push", "pull_request"}
    [job] = wf["jobs"].values()
    assert job["runs-on"].startswith("ubuntu-")
    assert job["container"].startswith("python:3.11-")  # Python 3.11, Debian's apt
    runs = _runs(wf)
    assert re.search(r"apt-get install .*\bchromium\b", runs.replace("\\\n", " "))
    assert "make test" in runs.splitlines()
    assert "playwright install" not in runs  # no tool downloads a browser
    assert _uploads(wf) == {"_build/screenshots", "_build/html"}


def test_canary_workflow_runs_weekly_and_on_demand():
    wf = _load("canary.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    [cron] = [s["cron"] for s in wf["on"]["schedule"]]
    assert cron.split()[2:4] == ["*", "*"]
    assert cron.split()[4] != "*"
    assert "make canary" in _runs(wf).splitlines()
    assert _uploads(wf) == {"book/canary.json"}


def _linters():
    tools = {name: BIN / name for name in ("check-jsonschema", "zizmor")}
    missing = [n for n, p in tools.items() if not p.exists()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: run `make install`")
    return tools


def _lint(tools, folder):
    schema = subprocess.run(
        [str(tools["check-jsonschema"]), "--builtin-schema", "vendor.github-workflows"]
        + sorted(map(str, folder.glob("*.yml"))),
        capture_output=True,
        text=True,
    )
    audit = subprocess.run(
        [str(tools["zizmor"]), "--offline", "--strict-collection", "--no-progress"]
        + [str(folder)],
        capture_output=True,
        text=True,
    )
    return schema, audit


def test_the_linters_pass_these_workflows():
    schema, audit = _lint(_linters(), WORKFLOWS)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_the_linters_catch_a_broken_workflow(tmp_path):
    tools = _linters()
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    text = (WORKFLOWS / "test.yml").read_text()
    (bad / "typo.yml").write_text(text.replace("runs-on:", "run-on:"))
    schema, audit = _lint(tools, bad)
    assert schema.returncode != 0
    assert "run-on" in schema.stdout
    assert audit.returncode != 0
    (bad / "typo.yml").unlink()
    # valid, but an action pinned by a moving tag and a pull request's title
    # expanded into a shell command (code injection)
    unsafe = re.sub(r"actions/checkout@\S+ # \S+", "actions/checkout@v7", text)
    title = "${{ github.event.pull_request.title }}"
    (bad / "unsafe.yml").write_text(
        unsafe.replace("run: make test", f'run: make test TITLE="{title}"')
    )
    schema, audit = _lint(tools, bad)
    assert schema.returncode == 0, schema.stdout
    assert audit.returncode != 0
    assert "unpinned-uses" in audit.stdout
    assert "template-injection" in audit.stdout
    shutil.rmtree(tmp_path / ".github")
