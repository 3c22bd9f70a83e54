"""Whatever an analyst's editor does to a valid file, validate reports it or passes it, and
never crashes: a linter that dies on a broken file fails CI for the wrong reason."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from retailflow.cli.app import app
from retailflow.validation import RULES

ROOT = Path(__file__).parents[2]
VALID = sorted([*ROOT.glob("processes/*.bpmn"), *ROOT.glob("tests/fixtures/*.bpmn")])
REFERENCES = (
    "sourceRef",
    "targetRef",
    "attachedToRef",
    "messageRef",
    "errorRef",
    "signalRef",
    "default",
    "bpmnElement",
    "calledElement",
    "processRef",
)
runner = CliRunner()


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid file with one to three attributes dropped, elements removed or references
    pointed elsewhere."""
    root = etree.fromstring(draw(st.sampled_from(VALID)).read_bytes())
    for _ in range(draw(st.integers(1, 3))):
        elements = [element for element in root.iter(etree.Element)]
        element = draw(st.sampled_from(elements))
        kind = draw(st.sampled_from(["drop-attribute", "drop-element", "redirect"]))
        if kind == "drop-attribute" and element.attrib:
            del element.attrib[draw(st.sampled_from(sorted(element.attrib)))]
        elif kind == "drop-element" and element.getparent() is not None:
            element.getparent().remove(element)
        else:
            referring = [
                e for e in root.iter(etree.Element) if any(e.get(name) for name in REFERENCES)
            ]
            if not referring:
                continue
            target = draw(st.sampled_from(referring))
            attribute = next(name for name in REFERENCES if target.get(name))
            ids = sorted({e.get("id") for e in root.iter(etree.Element) if e.get("id")})
            target.set(attribute, draw(st.sampled_from([*ids, "nowhere", ""])))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=mutated_files())
def test_a_mutated_file_yields_findings_or_a_clean_result_never_a_crash(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "mutated.bpmn"
    path.write_bytes(content)

    result = runner.invoke(app, ["validate", "--format", "json", str(path)])

    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    assert (result.exit_code == 1) == any(f["severity"] == "error" for f in report["findings"])
    assert all(f["rule"] in RULES and f["message"] for f in report["findings"])
