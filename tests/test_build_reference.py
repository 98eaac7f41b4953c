"""bookbuild.reference: strict nbval only on the kind of CPU the outputs were made on;
claimbook.budget.cpu_fingerprint; CLAIMBOOK_REFERENCE=0 makes verdict guards report."""

import json

import pytest

from bookbuild import reference
from claimbook import claims
from claimbook.budget import cpu_fingerprint


def _chapter(tmp_path, stem, versions):
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "setup()",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": versions}
                ],
            }
        ]
    }
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / "notebooks" / f"{stem}.ipynb").write_text(json.dumps(nb))


def _project(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\n")
    (tmp_path / "_config.yml").write_text("title: x\n")


def test_fingerprint_names_vendor_and_kernel_family():
    fp = cpu_fingerprint()
    vendor, cap = fp.rsplit(" ", 1)
    assert vendor
    assert cap
    assert fp == cpu_fingerprint()


def test_committed_cpu_read_from_the_versions_line(tmp_path):
    _chapter(tmp_path, "00_a", "budget\nversions: python 3.11, torch 2, cpu X AVX2\n")
    _chapter(tmp_path, "01_b", "versions: python 3.11, torch 2\n")
    got = reference.committed_cpus(tmp_path)
    assert got == {"00_a": "X AVX2", "01_b": ""}
    assert reference.mismatches(got, "X AVX2") == {}
    assert reference.mismatches(got, "Y AVX512") == {"00_a": "X AVX2"}


@pytest.mark.parametrize(("made_here", "rc"), [(True, 0), (False, 1)])
def test_exit_code_says_whether_to_compare_strictly(tmp_path, capsys, made_here, rc):
    _project(tmp_path)
    cpu = cpu_fingerprint() if made_here else "Other AVX1"
    _chapter(tmp_path, "00_a", f"versions: python 3.11, cpu {cpu}\n")
    assert reference.main(["--root", str(tmp_path)]) == rc
    out = capsys.readouterr().out
    assert ("runs lax" in out) == (not made_here)
    assert cpu_fingerprint() in out


def test_another_cpu_turns_the_guard_into_a_report(monkeypatch, capsys):
    from claimbook import setup

    monkeypatch.setenv("CLAIMBOOK_REFERENCE", "0")
    setup("small", quiet=True)
    assert claims._REFERENCE["strict"] is False
    assert "another kind of CPU" in claims._REFERENCE["label"]
    v = claims.record(
        "fd-xent", holds=False, evidence="x", expect=claims.HOLDS
    )  # reported, not raised
    assert v.verdict == claims.FAILS
    assert "differs from the committed chapter" in capsys.readouterr().out
    monkeypatch.delenv("CLAIMBOOK_REFERENCE")
    setup("small", quiet=True)
    assert claims._REFERENCE["strict"] is True
