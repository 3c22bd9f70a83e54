"""Reading DMN decisions (1.1 to 1.5, as Camunda Modeler writes them) from a parsed document.

The XML itself is parsed by ``retailflow.bpmn``'s hardened parser; this module receives the
``definitions`` element. Every problem found becomes a ``Finding`` with file, line and element id,
and all of them are reported together in one ``DeploymentError``: an analyst fixes a file in one
round trip, not one error at a time. Expressions and entries are syntax-checked here, so a typo
in a rule fails the deployment rather than the first order that reaches it.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from retailflow.bpmn.languages import declared_language
from retailflow.decisions.model import (
    Aggregation,
    Decision,
    DecisionTable,
    HitPolicy,
    Input,
    LiteralExpression,
    Output,
    Rule,
)
from retailflow.expressions import Dialect, ExpressionEngine, detect_dialect
from retailflow.model import DeploymentError, ExpressionError, Finding, Severity

DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "1.5",
}
"""The DMN model namespaces retailflow reads, with their DMN version."""

CAMUNDA_NS = "http://camunda.org/schema/1.0/dmn"

_CHECKER = ExpressionEngine()
"""Syntax checks only; evaluation uses the engine the caller configures."""


def _language(value: str | None) -> Dialect | None:
    """``expressionLanguage`` as Camunda writes it: a FEEL URI, ``feel``, ``juel``, ``python``
    (``ValueError`` for any other), read as a BPMN file's is."""
    if value is None:
        return None
    return Dialect(declared_language(value))


class _Reader:
    """Reads one ``definitions`` element, collecting findings instead of stopping at the first."""

    def __init__(self, namespace: str, file: str, expressions: ExpressionEngine) -> None:
        self.ns = namespace
        self.file = file
        self.expressions = expressions
        self.findings: list[Finding] = []

    def tag(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def finding(self, element: Any, rule: str, message: str, hint: str | None = None) -> None:
        self.findings.append(
            Finding(
                Severity.ERROR,
                rule,
                message,
                file=self.file,
                line=element.sourceline,
                element_id=element.get("id"),
                hint=hint,
            )
        )

    def text(self, element: Any | None) -> str:
        if element is None:
            return ""
        return (element.findtext(self.tag("text")) or "").strip()

    def language(self, element: Any, default: Dialect | None) -> Dialect | None:
        try:
            return _language(element.get("expressionLanguage")) or default
        except ValueError:
            self.finding(
                element,
                "dmn-unsupported-language",
                f"expression language {element.get('expressionLanguage')!r} is not supported",
                hint="use FEEL (the default), JUEL or Python",
            )
            return default

    def check(self, element: Any, text: str, dialect: Dialect) -> None:
        try:
            self.expressions.check(text, dialect=detect_dialect(text, dialect))
        except ExpressionError as error:
            self.finding(element, "dmn-invalid-expression", str(error))

    def check_tests(self, element: Any, text: str) -> None:
        try:
            self.expressions.check_unary_tests(text)
        except ExpressionError as error:
            self.finding(element, "dmn-invalid-expression", str(error))

    # decisions
    def decision(self, element: Any, default: Dialect) -> Decision | None:
        decision_id = element.get("id")
        if not decision_id:
            self.finding(
                element,
                "dmn-missing-id",
                "a decision has no id",
                hint="give the decision an id in Modeler's properties panel",
            )
            return None
        required = tuple(
            href.get("href", "").lstrip("#") for href in element.iter(self.tag("requiredDecision"))
        )
        table_element = element.find(self.tag("decisionTable"))
        literal_element = element.find(self.tag("literalExpression"))
        table = literal = None
        if table_element is not None:
            table = self.table(table_element, default)
        elif literal_element is not None:
            literal = self.literal(element, literal_element, default)
        else:
            self.finding(
                element,
                "dmn-unsupported-decision-logic",
                f"decision '{decision_id}' is neither a decision table nor a literal expression",
                hint="model it as a decision table",
            )
        return Decision(
            decision_id,
            element.get("name"),
            table,
            required,
            literal,
            file=self.file,
            line=element.sourceline,
        )

    def literal(self, decision: Any, element: Any, default: Dialect) -> LiteralExpression:
        variable = decision.find(self.tag("variable"))
        language = self.language(element, default) or default
        text = self.text(element)
        if not text:
            self.finding(element, "dmn-empty-expression", "the literal expression is empty")
        else:
            self.check(element, text, language)
        return LiteralExpression(
            text,
            variable.get("name")
            if variable is not None and variable.get("name")
            else decision.get("id"),
            variable.get("typeRef") if variable is not None else None,
            language,
        )

    def table(self, element: Any, default: Dialect) -> DecisionTable | None:
        hit_policy = self.hit_policy(element)
        aggregation = self.aggregation(element, hit_policy)
        inputs = tuple(self.input(child, default) for child in element.iter(self.tag("input")))
        outputs = tuple(self.output(child) for child in element.iter(self.tag("output")))
        if not outputs:
            self.finding(element, "dmn-no-output", "the decision table has no output column")
        if aggregation is not None and len(outputs) > 1:
            self.finding(
                element,
                "dmn-invalid-aggregation",
                f"{aggregation} needs exactly one output column, found {len(outputs)}",
            )
        if hit_policy in (HitPolicy.PRIORITY, HitPolicy.OUTPUT_ORDER) and not any(
            output.output_values for output in outputs
        ):
            self.finding(
                element,
                "dmn-missing-output-values",
                f"hit policy {hit_policy} orders matches by the output values, but no "
                "output column lists any",
                hint="set the output values (the priority order) on an output column",
            )
        rules = tuple(
            self.rule(child, len(inputs), len(outputs)) for child in element.iter(self.tag("rule"))
        )
        return DecisionTable(hit_policy, aggregation, inputs, outputs, rules)

    def hit_policy(self, element: Any) -> HitPolicy:
        raw = element.get("hitPolicy", "UNIQUE")
        try:
            return HitPolicy(raw.replace("_", " "))
        except ValueError:
            self.finding(
                element,
                "dmn-unsupported-hit-policy",
                f"unknown hit policy {raw!r}",
                hint=f"use one of {', '.join(HitPolicy)}",
            )
            return HitPolicy.UNIQUE

    def aggregation(self, element: Any, hit_policy: HitPolicy) -> Aggregation | None:
        raw = element.get("aggregation")
        if raw is None:
            return None
        if hit_policy is not HitPolicy.COLLECT:
            self.finding(
                element,
                "dmn-invalid-aggregation",
                f"aggregation {raw} only applies to the COLLECT hit policy",
            )
            return None
        try:
            return Aggregation(raw)
        except ValueError:
            self.finding(
                element,
                "dmn-invalid-aggregation",
                f"unknown aggregation {raw!r}",
                hint="use SUM, MIN, MAX or COUNT",
            )
            return None

    def input(self, element: Any, default: Dialect) -> Input:
        expression = element.find(self.tag("inputExpression"))
        language = None
        text = ""
        if expression is None or not self.text(expression):
            self.finding(
                element,
                "dmn-empty-expression",
                "the input has no expression",
                hint="set the input expression, e.g. the variable name",
            )
        else:
            text = self.text(expression)
            language = self.language(expression, None)
            self.check(expression, text, language or default)
        return Input(
            element.get("id", ""),
            text,
            element.get("label"),
            expression.get("typeRef") if expression is not None else None,
            language or default,
            element.get(f"{{{CAMUNDA_NS}}}inputVariable") or "cellInput",
        )

    def output(self, element: Any) -> Output:
        values = element.find(self.tag("outputValues"))
        priorities = self.text(values) or None
        if priorities is not None:
            self.check(values, f"[{priorities}]", Dialect.FEEL)
        return Output(
            element.get("id", ""),
            element.get("name") or element.get("id", ""),
            element.get("label"),
            element.get("typeRef"),
            priorities,
        )

    def rule(self, element: Any, input_count: int, output_count: int) -> Rule:
        input_elements = element.findall(self.tag("inputEntry"))
        output_elements = element.findall(self.tag("outputEntry"))
        if len(input_elements) != input_count or len(output_elements) != output_count:
            self.finding(
                element,
                "dmn-rule-shape",
                f"the rule has {len(input_elements)} input and {len(output_elements)} "
                f"output entries; the table has {input_count} inputs and "
                f"{output_count} outputs",
            )
        for entry in input_elements:
            self.check_tests(entry, self.text(entry))
        for entry in output_elements:
            if self.text(entry):
                self.check(entry, self.text(entry), Dialect.FEEL)
        description = element.findtext(self.tag("description"))
        return Rule(
            element.get("id", ""),
            tuple(self.text(entry) for entry in input_elements),
            tuple(self.text(entry) for entry in output_elements),
            description.strip() if description else None,
        )

    def requirements(self, decisions: list[Decision], elements: dict[str, Any]) -> None:
        """Every required decision exists in the file, and none requires itself in a cycle."""
        known = {decision.id: decision for decision in decisions}
        for decision in decisions:
            for required in decision.required_decisions:
                if required not in known:
                    self.finding(
                        elements[decision.id],
                        "dmn-unknown-required-decision",
                        f"decision '{decision.id}' requires '{required}', which is not "
                        "in this file",
                    )
        for decision in decisions:
            if _cycle(decision.id, known, ()):
                self.finding(
                    elements[decision.id],
                    "dmn-requirement-cycle",
                    f"decision '{decision.id}' requires itself through its required decisions",
                )


def _cycle(decision_id: str, known: dict[str, Decision], path: tuple[str, ...]) -> bool:
    if decision_id in path:
        return decision_id == path[0]
    decision = known.get(decision_id)
    if decision is None:
        return False
    return any(
        _cycle(required, known, (*path, decision_id)) for required in decision.required_decisions
    )


def parse_dmn(
    root: Any, *, file: str, expressions: ExpressionEngine | None = None
) -> list[Decision]:
    """The decisions of a DMN ``definitions`` element; ``DeploymentError`` lists every problem.

    ``expressions`` is only used to syntax-check entries (any engine will do).
    """
    name = etree.QName(root)
    if name.namespace not in DMN_NAMESPACES or name.localname != "definitions":
        raise DeploymentError(
            [
                Finding(
                    Severity.ERROR,
                    "dmn-not-definitions",
                    f"expected a DMN <definitions> element, found {name.localname!r} in namespace "
                    f"{name.namespace!r}",
                    file=file,
                    line=root.sourceline,
                    hint="save the file from Camunda Modeler as DMN 1.1 to 1.5",
                )
            ]
        )
    reader = _Reader(name.namespace, file, expressions or _CHECKER)
    default = reader.language(root, Dialect.FEEL) or Dialect.FEEL
    decisions: list[Decision] = []
    elements: dict[str, Any] = {}
    for element in root.iterchildren(reader.tag("decision")):
        decision = reader.decision(element, default)
        if decision is None:
            continue
        if decision.id in elements:
            reader.finding(
                element,
                "dmn-duplicate-id",
                f"decision id '{decision.id}' is used twice in this file",
            )
            continue
        elements[decision.id] = element
        decisions.append(decision)
    reader.requirements(decisions, elements)
    if reader.findings:
        raise DeploymentError(reader.findings)
    return decisions
