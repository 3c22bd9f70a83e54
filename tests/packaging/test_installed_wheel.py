"""The wheel as a user gets it: built from this checkout, installed in a fresh virtual
environment, and run from an empty folder, so nothing the checkout holds can stand in for what
the wheel lacks (the shipped processes above all)."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` of a fresh virtual environment with the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", ROOT, cwd=work
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (work / "dist").glob("retailflow-*.whl")
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    install = run(bin_dir / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
    assert install.returncode == 0, install.stderr
    return bin_dir


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_installed_retailflow_reports_its_version(installed: Path, empty_folder: Path) -> None:
    result = run(installed / "retailflow", "--version", cwd=empty_folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "retailflow 0.1.0"


def test_demo_runs_the_processes_shipped_in_the_wheel(installed: Path, empty_folder: Path) -> None:
    result = run(
        installed / "retailflow", "demo", "--days", "1", "--orders-per-day", "3", cwd=empty_folder
    )
    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout.replace("\n", "")
    assert re.search(r"Deployed \d+ processes from \S+/site-packages/retailflow/processes", said)
    assert "processes on target" in said
    assert (empty_folder / "retailflow-demo.db").exists()


def test_validate_checks_the_shipped_files_from_an_empty_folder(
    installed: Path, empty_folder: Path
) -> None:
    result = run(installed / "retailflow", "validate", cwd=empty_folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checking the files shipped with retailflow" in result.stderr
    assert "15 files checked" in result.stdout
    assert "no findings" in result.stdout


def test_wheel_carries_both_licence_texts_and_the_handlers_registry(
    installed: Path, empty_folder: Path
) -> None:
    result = run(
        installed / "python",
        "-c",
        "import retailflow.retail as r; print(len(r.registry().topics()))",
        cwd=empty_folder,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 0
    licences = sorted(
        path.name
        for path in (installed.parent / "lib").glob(
            "python*/site-packages/retailflow-*.dist-info/licenses/*"
        )
    )
    assert licences == ["COPYING", "LICENSE"]


def test_wheel_carries_the_cockpit_templates_and_migrations(
    installed: Path, empty_folder: Path
) -> None:
    result = run(
        installed / "python",
        "-c",
        "from importlib.resources import files; root = files('retailflow');"
        "print((root / 'cockpit/templates/login.html').is_file(),"
        " (root / 'stores/sql/migrations/versions/0004_cockpit_tokens_and_actor.py').is_file())",
        cwd=empty_folder,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
