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
    processes = [
        path
        for path in sorted([*ROOT.glob("processes/*.bpmn"), *ROOT.glob("tests/fixtures/*.bpmn")])
        if path.name not in REPORTED_ON_PURPOSE
    ]
    # Decisions, and processes that another file calls, are copied once as they are, so
    # every copy's business rule tasks and call activities find what they name.
    shipped = sorted(ROOT.glob("processes/*.dmn"))
    # a fixture decision that a shipped one has since replaced would be a duplicate id
    fixtures = [
        path
        for path in sorted(ROOT.glob("tests/fixtures/*.dmn"))
        if path.name not in {shipped_file.name for shipped_file in shipped}
    ]
    shared = [
        *fixtures,
        *shipped,
        *[path for path in processes if _called_from_another_file(path, processes)],
    ]
    for path in shared:
        shutil.copy(path, tmp_path / f"shared_{path.name}")
    copies = zip(range(100 - len(shared)), itertools.cycle(processes), strict=False)
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


def _called_from_another_file(path: Path, processes: list[Path]) -> bool:
    defined = set(re.findall(r'<bpmn:process id="(\w+)"', path.read_text()))
    return any(
        re.search(rf'processId="(?:{"|".join(defined)})"', other.read_text())
        for other in processes
        if other != path and defined
    )
