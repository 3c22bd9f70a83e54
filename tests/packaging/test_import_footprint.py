"""What ``import retailflow`` costs an application and what it does to the application's logs,
each checked in a fresh interpreter (this test process has long since loaded everything)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def python(code: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def test_import_retailflow_leaves_the_database_grammar_and_cli_libraries_unloaded() -> None:
    done = python("import json, sys, retailflow; print(json.dumps(sorted(sys.modules)))")
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert loaded.isdisjoint(
        {"sqlalchemy", "alembic", "lark", "typer", "rich", "croniter", "asyncio"}
    )
    # The cockpit's web stack too: an application that never serves it never loads it.
    assert loaded.isdisjoint({"fastapi", "starlette", "uvicorn", "jinja2", "prometheus_client"})
    assert "SpiffWorkflow" in loaded  # the in-memory engine's own interpreter stays


def test_they_load_on_first_use_of_a_database_store_and_a_feel_expression() -> None:
    done = python(
        "import sys, retailflow\n"
        "engine = retailflow.Engine('sqlite://')\n"
        f"engine.deploy({str(FIXTURES / 'script.bpmn')!r})\n"
        "engine.start('script_c8', variables={'price': 2, 'quantity': 3})\n"
        "print(sorted(n for n in ('sqlalchemy', 'alembic', 'lark') if n in sys.modules))"
    )
    assert done.stdout.split() == ["['alembic',", "'lark',", "'sqlalchemy']"]


LOGGED_RUN = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(name)s %(message)s')\n"
    "{configure}"
    "import retailflow\n"
    "engine = retailflow.Engine()\n"
    f"engine.deploy({str(FIXTURES / 'script.bpmn')!r})\n"
    "engine.start('script_c8', variables={{'price': 2, 'quantity': 3}})\n"
)


def test_spiffworkflow_info_records_stay_out_of_an_info_root_handler() -> None:
    done = python(LOGGED_RUN.format(configure=""))
    assert not [line for line in done.stdout.splitlines() if line.startswith("spiff")]


def test_an_application_that_asks_for_spiffworkflow_info_gets_it() -> None:
    done = python(
        LOGGED_RUN.format(configure="logging.getLogger('spiff').setLevel(logging.INFO)\n")
    )
    assert any(line.startswith("spiff.") for line in done.stdout.splitlines())
