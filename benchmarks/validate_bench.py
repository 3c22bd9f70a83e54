"""``retailflow validate`` against bpmnlint on the same 100 files, in one run.

    python benchmarks/validate_bench.py [--files 100] [--repeat 3]

The files are the shipped process and the test fixtures, copied until there are ``--files`` of
them, each copy with its own process, sub-process and decision ids so the set is one valid
deployment (SpiffWorkflow wants sub-process ids unique across a deployment too) (the fixtures
that exist to be reported, unsupported.bpmn and not_executable.bpmn, are left out). bpmnlint
runs its recommended configuration through its own CLI; it is installed from npm into a cache
directory on first use (``RETAILFLOW_BENCH_CACHE``, default ``~/.cache/retailflow-bench``).

retailflow does more per file (schema, expressions, compiling with SpiffWorkflow, on top of
bpmnlint's rules), so the table says what that costs. Each timing is the best of ``--repeat``
runs; the CLI rows include interpreter start-up, as CI sees it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from retailflow.validation import validate

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {"unsupported.bpmn", "not_executable.bpmn"}
CACHE = Path(os.environ.get("RETAILFLOW_BENCH_CACHE", Path.home() / ".cache" / "retailflow-bench"))
_DEFINED = re.compile(r'<(?:bpmn:process|bpmn:subProcess|decision) id="(\w+)"')


def write_copies(target: Path, count: int) -> None:
    """``count`` BPMN files, copies of the shipped ones, process ids made unique per copy.
    A copy that calls another process or a decision gets its own renamed copies of them."""
    sources = [
        path
        for path in sorted([*ROOT.glob("processes/*.bpmn"), *ROOT.glob("tests/fixtures/*.bpmn")])
        if path.name not in SKIPPED
    ]
    decisions = sorted(ROOT.glob("tests/fixtures/*.dmn"))
    dmn_ids = [_DEFINED.findall(path.read_text()) for path in decisions]
    for number, source in zip(range(count), itertools.cycle(sources), strict=False):
        text = source.read_text()
        for defined in _DEFINED.findall(text) + [i for ids in dmn_ids for i in ids]:
            text = text.replace(f'"{defined}"', f'"{defined}_{number}"')
        (target / f"{number:03d}_{source.name}").write_text(text)
        if "Decision" not in text and "decisionRef" not in text:
            continue
        for path, ids in zip(decisions, dmn_ids, strict=True):
            decision = path.read_text()
            for defined in ids:
                decision = decision.replace(f'"{defined}"', f'"{defined}_{number}"')
            (target / f"{number:03d}_{path.name}").write_text(decision)


def bpmnlint_command(files: list[Path]) -> list[str]:
    """bpmnlint's CLI with the recommended rules, installed into the cache on first use."""
    script = CACHE / "node_modules" / "bpmnlint" / "bin" / "bpmnlint.js"
    if not script.exists():
        if shutil.which("npm") is None:
            sys.exit("npm is needed to install bpmnlint for the comparison")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(CACHE), "bpmnlint@11"], check=True
        )
    config = CACHE / ".bpmnlintrc"
    config.write_text('{"extends": "bpmnlint:recommended"}\n')
    return ["node", str(script), "--config", str(config), *map(str, files)]


def best(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, in seconds."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    """Measure, then print one table of wall times, files per second and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory)
        write_copies(target, options.files)
        bpmn_files = sorted(target.glob("*.bpmn"))
        report = validate([directory])
        if any(d.severity == "error" for d in report.diagnostics):
            sys.exit(f"the generated files should be clean: {report.diagnostics[:3]}")
        lint = bpmnlint_command(bpmn_files)
        rows = {
            "retailflow validate (in process)": best(options.repeat, lambda: validate([directory])),
            "retailflow validate (CLI)": best(
                options.repeat,
                lambda: subprocess.run(
                    [sys.executable, "-m", "retailflow.cli", "validate", directory],
                    check=True,
                    capture_output=True,
                ),
            ),
            "bpmnlint recommended (CLI)": best(
                options.repeat, lambda: subprocess.run(lint, check=True, capture_output=True)
            ),
        }
    files = len(bpmn_files)
    baseline = rows["bpmnlint recommended (CLI)"]
    print(
        f"{files} BPMN files (+ {len(report.files) - files} DMN for retailflow), "
        f"best of {options.repeat}"
    )
    print(f"{'tool':36} {'wall s':>8} {'files/s':>9} {'time vs bpmnlint':>17}")
    for name, seconds in rows.items():
        print(f"{name:36} {seconds:8.3f} {files / seconds:9.0f} {seconds / baseline:16.2f}x")


if __name__ == "__main__":
    main()
