"""How long ``import retailflow`` takes and how much it loads, against a 0.15 s target.

    python benchmarks/import_time.py [--runs 9]

Each run is a fresh interpreter (``python -c "import retailflow"``), timed inside it with
``time.perf_counter`` around the import alone, so interpreter start-up is left out; the table
prints the median of ``--runs`` and the number of modules in ``sys.modules`` after the import,
and which of the heavy libraries retailflow loads on first use (SQLAlchemy, Alembic, lark,
typer, rich) the import pulled in anyway (none should be). ``python -X importtime -c "import
retailflow"`` says where the time goes.

Bytecode is cached as for any installed package (pip compiles on install), in a temporary
``PYTHONPYCACHEPREFIX`` warmed by one uncounted run, so an environment with
``PYTHONDONTWRITEBYTECODE`` does not time the compiling of every module instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

TARGET_SECONDS = 0.15
LAZY = ("sqlalchemy", "alembic", "lark", "typer", "rich")
PROBE = f"""
import json, sys, time
started = time.perf_counter()
import retailflow
took = time.perf_counter() - started
print(json.dumps({{"seconds": took, "modules": len(sys.modules),
                  "lazy_loaded": [name for name in {LAZY!r} if name in sys.modules]}}))
"""


def measure(environment: dict[str, str]) -> dict[str, object]:
    """One fresh interpreter's import of retailflow."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=environment
    )
    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters to time")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        environment = {
            name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
        } | {"PYTHONPYCACHEPREFIX": cache}
        measure(environment)  # writes the bytecode cache
        runs = [measure(environment) for _ in range(options.runs)]
    median = statistics.median(float(str(run["seconds"])) for run in runs)
    verdict = "within" if median <= TARGET_SECONDS else "OVER"
    print(
        f"{'import retailflow (median of ' + str(options.runs) + ')':<36}{median:>8.3f} s  "
        f"({verdict} the {TARGET_SECONDS} s target)"
    )
    print(f"{'modules in sys.modules':<36}{runs[-1]['modules']:>8}")
    loaded = ", ".join(str(name) for name in runs[-1]["lazy_loaded"]) or "none"  # type: ignore[attr-defined]
    print(f"{'heavy libraries loaded at import':<36}{loaded:>8}")


if __name__ == "__main__":
    main()
