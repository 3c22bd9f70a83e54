"""The catalogue of every rule ``retailflow validate`` reports: its id, default severity and what
it protects against.

The ids are what users write in configuration and what CI output shows, so they are stable.
Where a rule means the same as one of bpmnlint's, it carries bpmnlint's id (``conditional-flows``,
``no-bpmndi`` ...): people who know Camunda Modeler's warnings recognise them. A rule whose
default is ``None`` is off until configuration turns it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from retailflow.model import Finding, Severity


class Category(StrEnum):
    """Which question a rule answers; the docs and the SARIF rule metadata group by it."""

    FILE = "file"
    """Can the file be read and parsed at all?"""
    SCHEMA = "schema"
    """Is it valid BPMN 2.0 as the OMG schema defines it?"""
    MODELLING = "modelling"
    """Is the drawing a sound process (bpmnlint's recommended rules)?"""
    DIAGRAM = "diagram"
    """Can Modeler open and show it (BPMN DI)?"""
    RUNTIME = "runtime"
    """Would it fail when deployed or run?"""
    DECISION = "decision"
    """Does each DMN decision parse?"""
    CODE = "code"
    """Do the diagram and the Python handlers agree?"""


@dataclass(frozen=True, slots=True)
class Rule:
    """One named check. ``bpmnlint`` marks an id borrowed, with its meaning, from bpmnlint."""

    id: str
    severity: Severity | None
    category: Category
    summary: str
    bpmnlint: bool = False

    def at(
        self,
        element: etree._Element,
        file: str,
        message: str,
        hint: str,
        element_id: str | None = None,
    ) -> Finding:
        """A finding of this rule on ``element``: its line, and its id unless another is given
        (a rule about a flow may point at the flow's source instead)."""
        return self.report(
            message,
            hint,
            file=file,
            line=element.sourceline,
            element_id=element_id or element.get("id"),
        )

    def report(
        self, message: str, hint: str, *, file: str | None, line: int | None, element_id: str | None
    ) -> Finding:
        """A finding of this rule at a place that is not an XML element (a handler's code).
        A rule that is off by default reports as a warning once configuration turns it on."""
        return Finding(
            self.severity or Severity.WARNING,
            self.id,
            message,
            file=file,
            line=line,
            element_id=element_id,
            hint=hint,
        )


E, W = Severity.ERROR, Severity.WARNING


def _rules(
    category: Category, *entries: tuple[str, Severity | None, str], bpmnlint: bool = False
) -> list[Rule]:
    return [
        Rule(rule_id, severity, category, summary, bpmnlint)
        for rule_id, severity, summary in entries
    ]


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in [
        *_rules(
            Category.FILE,
            ("file-not-found", E, "a path names no readable .bpmn or .dmn file"),
            ("file-type-unknown", E, "a file is neither .bpmn nor .dmn"),
            ("xml-too-large", E, "a file is larger than the size limit"),
            ("xml-unsafe", E, "a file declares a DOCTYPE, DTD or entities"),
            ("xml-malformed", E, "a file is not well-formed XML"),
            ("xml-too-deep", E, "elements are nested deeper than the limit"),
            ("wrong-document", E, "a .bpmn file holds no BPMN definitions (or a .dmn no DMN)"),
        ),
        *_rules(
            Category.SCHEMA,
            (
                "schema-invalid",
                E,
                "the file breaks the BPMN 2.0 XML schema (every error is listed)",
            ),
        ),
        *_rules(
            Category.MODELLING,
            ("ad-hoc-sub-process", E, "an ad-hoc sub-process holds a start or end event"),
            (
                "conditional-flows",
                E,
                "a flow leaving a conditional fork has no condition and is not the default",
            ),
            ("end-event-required", E, "a process or sub-process has no end event"),
            (
                "event-based-gateway",
                E,
                "an event-based gateway has fewer than two flows, or a conditional one",
            ),
            (
                "event-sub-process-typed-start-event",
                E,
                "an event sub-process starts with a blank start event",
            ),
            (
                "fake-join",
                W,
                "a task or event has several incoming flows instead of a joining gateway",
            ),
            (
                "global",
                W,
                "a message, error, escalation or signal is unnamed, unused or named twice",
            ),
            ("label-required", E, "a task, event, forking gateway or conditional flow has no name"),
            ("link-event", E, "a link event has no name or no partner in its scope"),
            ("no-complex-gateway", E, "a complex gateway is drawn"),
            ("no-disconnected", E, "an element has neither incoming nor outgoing flows"),
            (
                "no-duplicate-sequence-flows",
                E,
                "two flows join the same elements with the same condition",
            ),
            ("no-gateway-join-fork", E, "a gateway both joins and forks"),
            (
                "no-implicit-split",
                E,
                "a task or event forks into unconditional flows without a gateway",
            ),
            ("no-implicit-end", E, "an element other than an end event has no outgoing flow"),
            (
                "no-implicit-start",
                E,
                "an element other than a start or boundary event has no incoming flow",
            ),
            (
                "no-inclusive-gateway",
                None,
                "an inclusive gateway is drawn (off: retailflow runs them)",
            ),
            ("single-blank-start-event", E, "a scope has more than one blank start event"),
            ("single-event-definition", E, "an event has more than one event definition"),
            ("start-event-required", E, "a process or sub-process has no start event"),
            ("sub-process-blank-start-event", E, "a sub-process starts with a typed start event"),
            ("superfluous-gateway", W, "a gateway has exactly one incoming and one outgoing flow"),
            ("superfluous-label", W, "an unconditional flow that is not a choice carries a label"),
            ("superfluous-termination", W, "a terminate end event ends a scope that ends anyway"),
            bpmnlint=True,
        ),
        *_rules(
            Category.DIAGRAM,
            ("no-bpmndi", E, "an element has no shape or edge, so Modeler cannot show it"),
            (
                "no-overlapping-elements",
                W,
                "two shapes overlap, or a shape sticks out of its pool or sub-process",
            ),
            bpmnlint=True,
        ),
        *_rules(
            Category.DIAGRAM,
            (
                "detached-edge",
                W,
                "a flow's line does not start on its source's shape or end on its target's",
            ),
        ),
        *_rules(
            Category.RUNTIME,
            ("missing-id", E, "a process, flow node or flow has no id"),
            ("duplicate-id", E, "an id (or a process or decision id across files) is used twice"),
            ("process-not-executable", W, "a process is not executable, so it is skipped"),
            ("unsupported-element", E, "an element retailflow cannot run faithfully"),
            (
                "unsupported-language",
                E,
                "a condition is declared in a language retailflow cannot "
                "evaluate (XPath, JavaScript, Groovy ...)",
            ),
            (
                "missing-reference",
                E,
                "a flow, boundary event or event definition points at nothing",
            ),
            ("missing-job-type", E, "a service or send task has no job type"),
            ("missing-script", E, "a script task has no script"),
            (
                "expression-invalid",
                E,
                "a condition, mapping, timer or script does not parse or is refused by the sandbox",
            ),
            ("called-element-unknown", E, "a call activity calls a process not in the set"),
            ("called-decision-unknown", E, "a business rule task calls a decision not in the set"),
            ("mapping-ignored", W, "an element's variable mappings are not applied at run time"),
            (
                "data-ignored",
                W,
                "a data object or data store in a Camunda file is documentation "
                "only, as in Camunda",
            ),
            (
                "setting-ignored",
                W,
                "a Camunda 7 setting that has no effect here (an async "
                "continuation outside a handler's task, field injection)",
            ),
            ("engine-refused", E, "SpiffWorkflow refused to compile the process"),
        ),
        *_rules(
            Category.DECISION,
            ("dmn-not-definitions", E, "a .dmn file holds no DMN definitions"),
            ("dmn-missing-id", E, "a decision has no id"),
            ("dmn-duplicate-id", E, "a DMN id is used twice"),
            ("dmn-unsupported-language", E, "a cell uses an expression language other than FEEL"),
            ("dmn-invalid-expression", E, "a cell or literal expression does not parse"),
            ("dmn-empty-expression", E, "a literal expression or output entry is empty"),
            (
                "dmn-unsupported-decision-logic",
                E,
                "a decision is neither a table nor a literal expression",
            ),
            ("dmn-no-output", E, "a decision table has no output column"),
            (
                "dmn-invalid-aggregation",
                E,
                "a COLLECT aggregation or hit policy does not fit the table",
            ),
            (
                "dmn-missing-output-values",
                E,
                "a PRIORITY or OUTPUT ORDER table lists no output values",
            ),
            ("dmn-unsupported-hit-policy", E, "a hit policy retailflow cannot evaluate"),
            ("dmn-rule-shape", E, "a rule has more or fewer entries than the table has columns"),
            ("dmn-unknown-required-decision", E, "a decision requires one that does not exist"),
            ("dmn-requirement-cycle", E, "decisions require each other in a cycle"),
        ),
        *_rules(
            Category.CODE,
            ("handler-missing", E, "a task's job type has no handler in the registry"),
            (
                "handler-input-unset",
                W,
                "a handler's required input is set by no input mapping and no step before the task",
            ),
            (
                "handler-output-unknown",
                E,
                "an output mapping reads a result the handler does not return",
            ),
            ("handler-unused", W, "a handler whose job type no process uses"),
            (
                "template-outdated",
                W,
                "a task's applied element template is not the version its "
                "handler's signature gives now",
            ),
        ),
    ]
}
"""Every rule, by id, in the order the docs list them."""
