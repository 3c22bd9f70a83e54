"""The pytest plugin, registered through the ``pytest11`` entry point: installed with
retailflow, active in every pytest run, and inert until a test asks for one of its fixtures.

Fixtures: ``rf_engine`` (an in-memory engine with the process library deployed),
``rf_deployment`` (what that deployment created), ``rf_clock`` (time travel), ``rf_handlers``
(handler mocks) and ``rf_process_paths`` (the library: the ``rf_deploy`` marker, else the
``rf_processes`` ini option).

Coverage is off unless asked for (``--rf-cov``, ``--rf-cov-report``, ``--rf-cov-fail-under``):
only then does each ``rf_engine`` hand its history to the collector when its test ends, so a
run that does not want coverage pays nothing, and engines a test builds itself are never read.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from retailflow.engine import Engine
from retailflow.engine.time_travel import TimeTravel
from retailflow.model import Deployment
from retailflow.testing.binding import bind_engine
from retailflow.testing.coverage import CoverageCollector
from retailflow.testing.mocks import HandlerMocks
from retailflow.testing.report_html import write_html
from retailflow.testing.report_json import write_json
from retailflow.testing.report_table import table_lines

_COLLECTOR = pytest.StashKey[CoverageCollector]()
_DEPLOYMENT = pytest.StashKey[Deployment]()
_REPORTS = pytest.StashKey[list[tuple[str, Path]]]()
_REPORT_DEFAULTS = {"html": "rf-coverage/index.html", "json": "rf-coverage/coverage.json"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("retailflow", "retailflow process tests and BPMN coverage")
    group.addoption(
        "--rf-cov",
        action="store_true",
        default=False,
        help="count the BPMN flow nodes, sequence flows and DMN rules the tests "
        "passed, and print a table per process",
    )
    group.addoption(
        "--rf-cov-report",
        action="append",
        default=[],
        metavar="TYPE[:PATH]",
        help="also write a report: html (the diagrams with covered elements "
        "coloured; default rf-coverage/index.html) or json (default "
        "rf-coverage/coverage.json); implies --rf-cov; may be repeated",
    )
    group.addoption(
        "--rf-cov-fail-under",
        type=float,
        default=None,
        metavar="PERCENT",
        help="fail the run when flow nodes and sequence flows together are "
        "covered below PERCENT; implies --rf-cov",
    )
    group.addoption(
        "--rf-cov-rules-fail-under",
        type=float,
        default=None,
        metavar="PERCENT",
        help="fail the run when fewer than PERCENT of the DMN rules of the "
        "decisions deployed were hit; implies --rf-cov",
    )
    parser.addini(
        "rf_processes",
        type="paths",
        default=[],
        help="BPMN/DMN files or directories the rf_engine fixture deploys",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rf_deploy(*paths): the BPMN/DMN files or directories "
        "rf_engine deploys for this test (relative to the "
        "rootdir), instead of the rf_processes ini option",
    )
    options = config.option
    config.stash[_REPORTS] = _reports(config)
    if (
        options.rf_cov
        or options.rf_cov_report
        or options.rf_cov_fail_under is not None
        or options.rf_cov_rules_fail_under is not None
    ):
        config.stash[_COLLECTOR] = CoverageCollector()


@pytest.fixture
def rf_clock() -> TimeTravel:
    """A virtual clock at 2030-01-01T00:00Z; ``rf_clock.advance(minutes=30)`` moves it and
    fires whatever falls due on the way, in order."""
    return TimeTravel()


@pytest.fixture
def rf_handlers() -> HandlerMocks:
    """Handler mocks: ``rf_handlers.mock("payment.capture", returns={...})``."""
    return HandlerMocks()


@pytest.fixture
def rf_process_paths(request: pytest.FixtureRequest) -> list[Path]:
    """The process library: the test's ``rf_deploy`` marker, else the ``rf_processes`` ini
    option; override the fixture for anything else."""
    marker = request.node.get_closest_marker("rf_deploy")
    if marker is not None:
        root = request.config.rootpath
        return [Path(path) if Path(path).is_absolute() else root / path for path in marker.args]
    return list(request.config.getini("rf_processes"))


@pytest.fixture
def rf_engine(
    request: pytest.FixtureRequest,
    rf_handlers: HandlerMocks,
    rf_clock: TimeTravel,
    rf_process_paths: list[Path],
) -> Iterator[Engine]:
    """An in-memory engine on ``rf_clock`` and ``rf_handlers``, with the process library
    deployed, bound for ``assert_that``, ``complete`` and ``correlate``. Handlers are mocked
    inside the test, after deployment, so the deployment does not require them."""
    engine = Engine(handlers=rf_handlers, clock=rf_clock.clock)
    rf_clock.attach(engine)
    with engine, bind_engine(engine):
        if rf_process_paths:
            request.node.stash[_DEPLOYMENT] = engine.deploy(
                *rf_process_paths, require_handlers=False
            )
        yield engine
        collector = request.config.stash.get(_COLLECTOR, None)
        if collector is not None:
            collector.collect(engine)


@pytest.fixture
def rf_deployment(request: pytest.FixtureRequest, rf_engine: Engine) -> Deployment:
    """What deploying the process library into ``rf_engine`` created."""
    deployment = request.node.stash.get(_DEPLOYMENT, None)
    if deployment is None:
        pytest.fail(
            "no process library is configured: set the rf_processes ini option or "
            "mark the test with rf_deploy(...)",
            pytrace=False,
        )
    return deployment


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    collector = config.stash.get(_COLLECTOR, None)
    if collector is None:
        return
    terminalreporter.write_sep("-", "retailflow BPMN coverage")
    for line in table_lines(collector):
        terminalreporter.write_line(line)
    for kind, path in config.stash[_REPORTS]:
        if kind == "html":
            write_html(collector, path)
        else:
            write_json(collector, path)
        terminalreporter.write_line(f"{kind.upper()} report written to {path}")
    for failure in _below_thresholds(config, collector):
        terminalreporter.write_line(f"FAIL: {failure}", red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    # After the last test every engine has been collected: a run below the threshold fails
    # like a failed test, as pytest-cov does it.
    result = yield
    collector = session.config.stash.get(_COLLECTOR, None)
    if collector is not None and _below_thresholds(session.config, collector):
        session.testsfailed += 1
    return result


def _below_thresholds(config: pytest.Config, collector: CoverageCollector) -> list[str]:
    """What falls short of ``--rf-cov-fail-under`` and ``--rf-cov-rules-fail-under``."""
    failures = []
    paths, rules = config.option.rf_cov_fail_under, config.option.rf_cov_rules_fail_under
    if paths is not None and collector.total.percent < paths:
        failures.append(
            f"BPMN coverage {collector.total.percent:.2f}% is below --rf-cov-fail-under={paths:g}%"
        )
    if rules is not None and collector.rules.percent < rules:
        failures.append(
            f"DMN rule coverage {collector.rules.percent:.2f}% is below "
            f"--rf-cov-rules-fail-under={rules:g}%"
        )
    return failures


def _reports(config: pytest.Config) -> list[tuple[str, Path]]:
    reports = []
    for option in config.option.rf_cov_report:
        kind, _, path = option.partition(":")
        if kind not in _REPORT_DEFAULTS:
            raise pytest.UsageError(f"--rf-cov-report={option}: the type is html or json")
        reports.append((kind, Path(path or _REPORT_DEFAULTS[kind])))
    return reports
