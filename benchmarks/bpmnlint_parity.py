"""Do retailflow's Python versions of bpmnlint's rules find what bpmnlint finds?

    python benchmarks/bpmnlint_parity.py [--files 80] [--seed 3]

Damages copies of the shipped and fixture processes the way careless edits do (an element, a
flow or a shape deleted, a name cleared, a shape dragged onto another), runs bpmnlint's
recommended rules and retailflow's modelling and diagram rules on the same files, and
compares (file, rule, element) triples. The one difference by design is accepted: for an
element with no flows at all, retailflow reports ``no-disconnected`` only, where bpmnlint adds
``no-implicit-start`` and ``no-implicit-end``. Where a bpmnlint rule crashes (``no-bpmndi`` on
a diagram without a plane), that rule is not compared for that file.
Exits 1 if anything else differs, listing it. bpmnlint is installed as for validate_bench.py.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from lxml import etree
from validate_bench import ROOT, bpmnlint_command

from retailflow.bpmn.namespaces import BPMN, BPMNDI, DC
from retailflow.validation import RULES
from retailflow.validation.diagram_rules import check_diagram
from retailflow.validation.modelling_rules import check_modelling

Triple = tuple[str, str, str | None]
_REPORTED = re.compile(r"\s+(\S+)\s+(?:error|warning)\s+.*?\s{2,}([a-z-]+)")
_CRASHED = re.compile(r"\s+rule-error\s+.*?\s{2,}([a-z-]+)")
_OFF_HERE = {"no-inclusive-gateway"}  # off by default in retailflow, on in bpmnlint


def damaged_copies(target: Path, count: int, rng: random.Random) -> list[Path]:
    """``count`` files, each a source file with one to three elements (model or diagram)
    deleted or unnamed, and sometimes a shape moved on top of another."""
    sources = sorted([*ROOT.glob("processes/*.bpmn"), *ROOT.glob("tests/fixtures/*.bpmn")])
    files = []
    for number in range(count):
        root = etree.parse(str(rng.choice(sources))).getroot()
        bounds = list(root.iter(f"{{{DC}}}Bounds"))
        if len(bounds) > 1 and rng.random() < 0.3:  # a shape dragged onto another one
            moved, onto = rng.sample(bounds, 2)
            moved.set("x", onto.get("x", "0"))
            moved.set("y", onto.get("y", "0"))
        for _ in range(rng.randint(1, 3)):
            candidates = [
                element
                for element in root.iter(f"{{{BPMN}}}*", f"{{{BPMNDI}}}*")
                if element.get("id") and element.getparent() is not None
            ]
            if not candidates:
                break  # the whole process went: nothing left to damage
            element = rng.choice(candidates)
            if element.get("name") and rng.random() < 0.3:
                del element.attrib["name"]
            else:
                element.getparent().remove(element)
        path = target / f"damaged_{number:03d}.bpmn"
        path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        files.append(path)
    return files


def retailflow_findings(files: list[Path]) -> set[Triple]:
    """What the Python versions of bpmnlint's rules report (retailflow's own rules, such as
    ``detached-edge``, have nothing to compare with)."""
    found: set[Triple] = set()
    for path in files:
        root = etree.parse(str(path)).getroot()
        for finding in check_modelling(path.name, root) + check_diagram(path.name, root):
            if RULES[finding.rule].bpmnlint and finding.rule not in _OFF_HERE:
                found.add((path.name, finding.rule, finding.element_id))
    return found


def bpmnlint_findings(files: list[Path]) -> tuple[set[Triple], set[tuple[str, str]]]:
    """What bpmnlint's CLI reports (its import warnings, which have no rule, left out), and
    the (file, rule) pairs where a rule crashed (``no-bpmndi`` does on a diagram without a
    plane), which cannot be compared."""
    result = subprocess.run(bpmnlint_command(files), capture_output=True, text=True)
    found: set[Triple] = set()
    crashed: set[tuple[str, str]] = set()
    current = ""
    for line in result.stdout.splitlines():
        line = line.rstrip()
        if line.strip().endswith(".bpmn"):
            current = Path(line.strip()).name
        elif matched := _CRASHED.match(line):
            crashed.add((current, matched.group(1)))
        elif (matched := _REPORTED.match(line)) and matched.group(2) not in _OFF_HERE:
            found.add((current, matched.group(2), matched.group(1)))
    return found, crashed


def main() -> None:
    """Compare, print a table per rule, exit 1 on an unexplained difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=80)
    parser.add_argument("--seed", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        files = damaged_copies(Path(directory), options.files, random.Random(options.seed))
        theirs, crashed = bpmnlint_findings(files)
        ours = {
            triple for triple in retailflow_findings(files) if (triple[0], triple[1]) not in crashed
        }
    by_design = {
        (file, rule, element)
        for file, rule, element in theirs - ours
        if rule in ("no-implicit-start", "no-implicit-end")
        and (file, "no-disconnected", element) in ours
    }
    unexplained = (ours ^ theirs) - by_design
    counts_ours = Counter(rule for _, rule, _ in ours)
    counts_theirs = Counter(rule for _, rule, _ in theirs)
    print(f"{len(files)} damaged files, seed {options.seed}")
    print(f"{'rule':36} {'retailflow':>10} {'bpmnlint':>9} {'both':>6}")
    for rule in sorted(counts_ours | counts_theirs):
        both = sum(1 for triple in ours & theirs if triple[1] == rule)
        print(f"{rule:36} {counts_ours[rule]:10} {counts_theirs[rule]:9} {both:6}")
    print(
        f"bpmnlint rules that crashed (not compared): {len(crashed)}; differences by design "
        f"(lonely elements): {len(by_design)}; unexplained: {len(unexplained)}"
    )
    for triple in sorted(unexplained, key=str):
        side = "retailflow only" if triple in ours else "bpmnlint only"
        print(f"  {side}: {triple}")
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
