"""Loading files: paths, directories and globs, all read up front or refused together."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from bpmn_diagrams import bpmn_file, dmn_file, linear_process, service_task

from retailflow.bpmn import SourceFile, load_sources
from retailflow.model import DeploymentError


@pytest.fixture
def processes(tmp_path: Path) -> Path:
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "returns.bpmn").write_bytes(bpmn_file(linear_process(service_task())))
    (tmp_path / "fulfilment.bpmn").write_bytes(bpmn_file(linear_process(service_task())))
    (tmp_path / "pricing.dmn").write_bytes(dmn_file("discount"))
    (tmp_path / "README.md").write_text("not a process")
    return tmp_path


def rules_of(error: pytest.ExceptionInfo[DeploymentError]) -> list[str]:
    return [finding.rule for finding in error.value.findings]


def test_a_directory_loads_every_bpmn_and_dmn_file_below_it_sorted(processes: Path) -> None:
    sources = load_sources([processes])

    assert [Path(source.name).relative_to(processes).as_posix() for source in sources] == [
        "fulfilment.bpmn",
        "orders/returns.bpmn",
        "pricing.dmn",
    ]
    assert [source.kind for source in sources] == ["bpmn", "bpmn", "dmn"]


def test_a_source_carries_its_bytes_and_their_sha256(processes: Path) -> None:
    [source] = load_sources([processes / "pricing.dmn"])

    assert source.content == (processes / "pricing.dmn").read_bytes()
    assert source.content_hash == hashlib.sha256(source.content).hexdigest()


def test_a_glob_loads_the_matching_files(processes: Path) -> None:
    sources = load_sources([f"{processes}/**/*.bpmn"])

    assert [Path(source.name).name for source in sources] == ["fulfilment.bpmn", "returns.bpmn"]


def test_a_file_named_twice_is_read_once(processes: Path) -> None:
    sources = load_sources([processes / "pricing.dmn", processes])

    assert [Path(source.name).name for source in sources].count("pricing.dmn") == 1


def test_every_missing_path_is_reported_together(processes: Path) -> None:
    with pytest.raises(DeploymentError) as raised:
        load_sources(
            [
                processes / "missing.bpmn",
                f"{processes}/*.nothing",
                processes / "README.md",
                processes / "fulfilment.bpmn",
            ]
        )

    assert rules_of(raised) == ["file-not-found", "file-not-found", "file-type-unknown"]
    assert raised.value.findings[0].file == f"{processes.as_posix()}/missing.bpmn"


def test_an_empty_directory_is_an_error_not_an_empty_deployment(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError) as raised:
        load_sources([tmp_path])

    assert rules_of(raised) == ["file-not-found"]


def test_an_oversized_file_is_refused_without_reading_it(processes: Path) -> None:
    with pytest.raises(DeploymentError) as raised:
        load_sources([processes / "pricing.dmn"], max_bytes=10)

    assert rules_of(raised) == ["xml-too-large"]


def test_an_unreadable_file_is_reported(processes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod cannot lock root (who runs CI) out of a file, so the refusal is simulated.
    locked = processes / "fulfilment.bpmn"
    real_read = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path == locked:
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(DeploymentError) as raised:
        load_sources([locked])

    assert rules_of(raised) == ["file-not-found"]
    assert "cannot be read" in raised.value.findings[0].message


def test_a_source_from_memory_takes_its_kind_from_the_name() -> None:
    source = SourceFile.of("legacy/order.bpmn20.xml", b"<x/>")

    assert source.kind == "bpmn"
    assert source.content_hash == hashlib.sha256(b"<x/>").hexdigest()
    with pytest.raises(DeploymentError):
        SourceFile.of("order.xml", b"<x/>")
