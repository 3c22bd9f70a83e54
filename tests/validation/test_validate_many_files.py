"""A directory of 100 process files that form one valid deployment validates clean, with every
stage run (SpiffWorkflow's compile included). How fast is measured in
``benchmarks/validate_bench.py``, not here: timed tests fail on a busy shared machine."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

from retailflow.model import Severity
from retailflow.validation import validate

ROOT = Path(__file__).parents[2]
REPORTED_ON_PURPOSE = {"unsupported.bpmn", "not_executable.bpmn"}


def test_a_hundred_files_of_one_deployment_validate_clean(tmp_path: Path) -> None:
    decisions = sorted([*ROOT.glob("tests/fixtures/*.dmn"), *ROOT.glob("processes/*.dmn")])
    shipped = sorted(ROOT.glob("processes/*.bpmn"))
    # the shipped library once as it is, so the copies' call activities find what they call
    for original in [*decisions, *shipped]:
        shutil.copy(original, tmp_path / original.name)
    processes = [path for path in sorted([*ROOT.glob("processes/*.bpmn"),
                                          *ROOT.glob("tests/fixtures/*.bpmn")])
                 if path.name not in REPORTED_ON_PURPOSE]
    copies = zip(range(100 - len(decisions) - len(shipped)), itertools.cycle(processes),
                 strict=False)
    for number, original in copies:
        # own process and sub-process ids per copy: the set is one valid deployment, so
        # every stage runs, compiling with SpiffWorkflow included
        text = original.read_text()
        for defined in re.findall(r'<bpmn:(?:process|subProcess) id="(\w+)"', text):
            text = text.replace(f'"{defined}"', f'"{defined}_{number}"')
        (tmp_path / f"{number:03d}_{original.name}").write_text(text)
    report = validate([str(tmp_path)])

    assert len(report.files) == 100
    assert not [d for d in report.diagnostics if d.severity == Severity.ERROR]
