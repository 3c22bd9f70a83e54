"""Reading DMN files as Modeler writes them, and refusing broken ones with every problem listed."""

from __future__ import annotations

import pytest
from dmn_documents import DMN11, literal, modeler_file, parse, table

from retailflow.decisions import (
    Aggregation,
    DecisionTable,
    HitPolicy,
    LiteralExpression,
    Rule,
    parse_dmn,
)
from retailflow.expressions import Dialect
from retailflow.model import DeploymentError, Finding

SHIPPING = table(
    "shipping",
    [("Country", "order.country")],
    [("cost", "number")],
    [(['"DE"'], ["4.9"]), (["-"], ["9.9"])],
    hit_policy="FIRST",
    name="Shipping cost",
)


def findings_of(xml: str) -> list[Finding]:
    with pytest.raises(DeploymentError) as raised:
        parse_dmn(parse(xml), file="broken.dmn")
    return raised.value.findings


def test_modeler_decision_table_is_read_completely() -> None:
    [decision] = parse_dmn(parse(modeler_file(SHIPPING)), file="shipping.dmn")
    assert decision.id == "shipping"
    assert decision.name == "Shipping cost"
    assert decision.required_decisions == ()
    assert decision.file == "shipping.dmn"
    assert decision.line is not None
    assert isinstance(decision.table, DecisionTable)
    assert decision.table.hit_policy is HitPolicy.FIRST
    assert decision.table.aggregation is None
    assert [column.expression for column in decision.table.inputs] == ["order.country"]
    assert decision.table.inputs[0].label == "Country"
    assert [(column.name, column.type_ref) for column in decision.table.outputs] == [
        ("cost", "number")
    ]
    assert decision.table.rules[0] == Rule("shipping_Rule_1", ('"DE"',), ("4.9",), "rule 1")


def test_hit_policy_defaults_to_unique_and_collect_keeps_its_aggregation() -> None:
    unique = table("a", [("X", "x")], [("y", "number")], [(["-"], ["1"])])
    collect = table(
        "b",
        [("X", "x")],
        [("y", "number")],
        [(["-"], ["1"])],
        hit_policy="COLLECT",
        aggregation="SUM",
    )
    first, second = parse_dmn(parse(modeler_file(unique, collect)), file="x.dmn")
    assert first.table is not None and first.table.hit_policy is HitPolicy.UNIQUE
    assert second.table is not None and second.table.aggregation is Aggregation.SUM


def test_literal_decision_and_requirements_are_read() -> None:
    total = literal("total", "a + b", "orderTotal", requires=("shipping",))
    _, decision = parse_dmn(parse(modeler_file(SHIPPING, total)), file="x.dmn")
    assert decision.table is None
    assert decision.literal == LiteralExpression("a + b", "orderTotal", "number", Dialect.FEEL)
    assert decision.required_decisions == ("shipping",)


def test_dmn_1_1_files_from_camunda_7_are_read() -> None:
    [decision] = parse_dmn(parse(modeler_file(SHIPPING, namespace=DMN11)), file="c7.dmn")
    assert decision.id == "shipping"


def test_every_problem_is_reported_at_once_with_file_line_and_element() -> None:
    bad_entry = table(
        "risk",
        [("Amount", "amount")],
        [("risk", "string")],
        [(["> > 5"], ['"high"']), (["-"], ["frobnicate(1)"])],
    )
    bad_policy = table(
        "other", [("X", "x")], [("y", "number")], [(["-"], ["1"])], hit_policy="SOMETIMES"
    )
    findings = findings_of(modeler_file(bad_entry, bad_policy))
    by_element = {finding.element_id: finding for finding in findings}
    assert by_element["risk_In_1_0"].rule == "dmn-invalid-expression"
    assert "unexpected" in by_element["risk_In_1_0"].message
    assert by_element["risk_Out_2_0"].rule == "dmn-invalid-expression"
    assert "frobnicate" in by_element["risk_Out_2_0"].message
    assert by_element["Table_other"].rule == "dmn-unsupported-hit-policy"
    assert all(finding.file == "broken.dmn" and finding.line for finding in findings)


@pytest.mark.parametrize(
    ("decision", "rule"),
    [
        (
            table("a", [("X", "x")], [("y", "number")], [(["-"], ["1"])], aggregation="SUM"),
            "dmn-invalid-aggregation",
        ),
        (
            table(
                "a",
                [("X", "x")],
                [("y", "number")],
                [(["-"], ["1"])],
                hit_policy="COLLECT",
                aggregation="AVERAGE",
            ),
            "dmn-invalid-aggregation",
        ),
        (
            table(
                "a",
                [("X", "x")],
                [("y", "number"), ("z", "number")],
                [(["-"], ["1", "2"])],
                hit_policy="COLLECT",
                aggregation="SUM",
            ),
            "dmn-invalid-aggregation",
        ),
        (table("a", [("X", "x")], [("y", "number")], [(["-", "-"], ["1"])]), "dmn-rule-shape"),
        (
            table("a", [("X", "x")], [("y", "number")], [(["-"], ["1"])], hit_policy="PRIORITY"),
            "dmn-missing-output-values",
        ),
        (
            table("a", [("X", "x")], [("y", "number")], [(["-"], ["1"])], requires=("ghost",)),
            "dmn-unknown-required-decision",
        ),
        (table("a", [("X", "x +")], [("y", "number")], [(["-"], ["1"])]), "dmn-invalid-expression"),
        (table("a", [("X", "")], [("y", "number")], [(["-"], ["1"])]), "dmn-empty-expression"),
        (table("a", [("X", "x")], [], []), "dmn-no-output"),
        ('<decision id="a"><context id="c" /></decision>', "dmn-unsupported-decision-logic"),
        (
            '<decision name="no id"><literalExpression><text>1</text></literalExpression>'
            "</decision>",
            "dmn-missing-id",
        ),
    ],
)
def test_broken_decision_is_refused_with_a_named_rule(decision: str, rule: str) -> None:
    assert rule in {finding.rule for finding in findings_of(modeler_file(decision))}


def test_decisions_requiring_each_other_in_a_cycle_are_refused() -> None:
    first = table("a", [("X", "b")], [("y", "number")], [(["-"], ["1"])], requires=("b",))
    second = table("b", [("X", "a")], [("y", "number")], [(["-"], ["1"])], requires=("a",))
    rules = [finding.rule for finding in findings_of(modeler_file(first, second))]
    assert rules.count("dmn-requirement-cycle") == 2


def test_duplicate_decision_ids_are_refused() -> None:
    findings = findings_of(modeler_file(SHIPPING, SHIPPING))
    assert [finding.rule for finding in findings] == ["dmn-duplicate-id"]


def test_unsupported_expression_language_is_refused() -> None:
    groovy = table("a", [("X", "x")], [("y", "number")], [(["-"], ["1"])]).replace(
        'typeRef="string">', 'typeRef="string" expressionLanguage="groovy">'
    )
    findings = findings_of(modeler_file(groovy))
    assert [finding.rule for finding in findings] == ["dmn-unsupported-language"]


def test_a_bpmn_file_is_not_a_decision_file() -> None:
    bpmn = '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"></definitions>'
    [finding] = findings_of(bpmn)
    assert finding.rule == "dmn-not-definitions"
    assert finding.line == 1
