"""``--format junit``: JUnit XML, which GitLab, Jenkins and Azure show as test results: one
suite per file, one failing test case per finding, one passing case for a clean file."""

from __future__ import annotations

from lxml import etree

from retailflow.model.printable import printable
from retailflow.validation.report import ValidationReport


def render(report: ValidationReport) -> str:
    """The report as a ``<testsuites>`` document."""
    suites = etree.Element(
        "testsuites",
        name="retailflow validate",
        tests="0",
        failures="0",
        time=f"{report.seconds:.3f}",
    )
    total = failures = 0
    for file, diagnostics in report.by_file().items():
        # XML cannot hold control characters, which a file name or message may carry.
        name = printable(file or "(configuration)")
        suite = etree.SubElement(suites, "testsuite", name=name)
        for diagnostic in diagnostics:
            finding = diagnostic.finding
            where = ":".join(
                str(part) for part in (finding.line, diagnostic.column) if part is not None
            )
            element = f" [{printable(finding.element_id)}]" if finding.element_id else ""
            case = etree.SubElement(
                suite, "testcase", classname=name, name=f"{finding.rule}{element} {where}".strip()
            )
            failure = etree.SubElement(
                case, "failure", type=str(finding.severity), message=printable(finding.message)
            )
            failure.text = printable(str(finding))
        if not diagnostics:
            etree.SubElement(suite, "testcase", classname=name, name="no findings")
        suite.set("tests", str(max(len(diagnostics), 1)))
        suite.set("failures", str(len(diagnostics)))
        total += max(len(diagnostics), 1)
        failures += len(diagnostics)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    return etree.tostring(
        suites, xml_declaration=True, encoding="UTF-8", pretty_print=True
    ).decode()
