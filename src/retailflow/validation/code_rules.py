"""Diagram against code: do the service tasks and the application's handlers agree?

bpmnlint sees only the drawing and a unit test sees only the function; the mismatch between
them (a renamed job type, a handler that now needs a variable nobody sets, an output mapping
reading a field the handler no longer returns) otherwise shows up as an incident in production.
The handler's signature says what it reads and returns (``RegisteredHandler``'s introspection).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path

from lxml import etree

from retailflow.bpmn.document import JOB_ELEMENTS, BpmnDocument, is_executable
from retailflow.bpmn.extensions import ElementConfig, expression_language, read_element_config
from retailflow.bpmn.namespaces import CAMUNDA, ZEEBE
from retailflow.element_templates import template_id, template_version
from retailflow.handlers import HandlerRegistry, RegisteredHandler
from retailflow.handlers.delegates import unbound_callouts
from retailflow.model import Finding
from retailflow.validation.flow_graph import FlowNode, FlowScope, flow_scopes
from retailflow.validation.rules import RULES
from retailflow.validation.variable_flow import VariableFlow

_JOB_KINDS = frozenset(tag.rpartition("}")[2] for tag in JOB_ELEMENTS)
_PATH = re.compile(
    r"\s*(?:=|\$\{|#\{)?\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s*\.\s*[A-Za-z_]\w*)*"
    r"\s*\}?\s*"
)
"""A mapping source that only reads one variable (``=result``, ``=result.id``, ``${result}``)."""


def check_code(
    documents: Sequence[BpmnDocument], handlers: HandlerRegistry, start_variables: frozenset[str]
) -> list[Finding]:
    """Every code finding for a set of files against one registry."""
    findings: list[Finding] = []
    used: set[str] = set()
    for document in documents:
        scopes = [scope for scope in flow_scopes(document.root) if _executable(scope)]
        flow = VariableFlow(handlers, start_variables)
        flow.add_scopes(scopes)
        for scope in scopes:
            # A process's own listeners, each element's delegate and listeners, each flow's.
            owners = [scope.element] if scope.parent is None else []
            elements = [
                *owners,
                *(node.element for node in scope.nodes),
                *(flow.element for flow in scope.flows),
            ]
            for element in elements:
                findings.extend(_callout_findings(document.name, element, handlers, used))
            for node in scope.nodes:
                config = read_element_config(node.element)
                if node.kind not in _JOB_KINDS:
                    continue
                job_type = config.job_type
                if not job_type or expression_language(job_type) is not None:
                    continue
                used.add(job_type)
                findings.extend(_task_findings(document.name, node, scope, config, handlers, flow))
    findings.extend(_unused(handlers, used))
    return findings


def _executable(scope: FlowScope) -> bool:
    outermost = scope
    while outermost.parent is not None:
        outermost = outermost.parent
    return is_executable(outermost.element)


def _task_findings(
    file: str,
    node: FlowNode,
    scope: FlowScope,
    config: ElementConfig,
    handlers: HandlerRegistry,
    flow: VariableFlow,
) -> Iterator[Finding]:
    job_type = config.job_type or ""
    handler = handlers.get(job_type)
    if handler is None:
        yield RULES["handler-missing"].at(
            node.element,
            file,
            f"no handler is registered for job type '{job_type}'",
            f"register one with @handlers.handler({job_type!r}), or fix the job type",
        )
        return
    yield from _outdated_template(file, node, handler)
    mapped = frozenset(mapping.target for mapping in config.inputs if mapping.target)
    before = flow.before(node, scope)
    unset = sorted(
        name for name in handler.required_inputs if name not in mapped and name not in before
    )
    if unset:
        names = ", ".join(f"'{name}'" for name in unset)
        yield RULES["handler-input-unset"].at(
            node.element,
            file,
            f"handler '{job_type}' needs {names}, which no input mapping of the task and no "
            "step before it sets",
            "add an input mapping, set the variable in an earlier step, or list it under "
            "start-variables if every instance is started with it",
        )
    if handler.output_fields is None:
        return
    for mapping in config.outputs:
        read = _single_variable(mapping.source)
        if read is None or read in handler.output_fields or read in mapped or read in before:
            continue
        fields = ", ".join(sorted(handler.output_fields)) or "nothing"
        yield RULES["handler-output-unknown"].at(
            node.element,
            file,
            f"the output mapping to '{mapping.target}' reads '{read}', which handler "
            f"'{job_type}' does not return (it returns {fields})",
            "map one of the fields the handler returns, or add the field to its result type",
        )


def _callout_findings(
    file: str, element: etree._Element, handlers: HandlerRegistry, used: set[str]
) -> Iterator[Finding]:
    """The delegate and listeners of one element against the registry; the topics of the
    handlers they call go to ``used``."""
    config = read_element_config(element)
    used.update(_callout_topics(handlers, config))
    for unbound in unbound_callouts(handlers, config):
        yield RULES["handler-missing"].report(
            unbound.message,
            unbound.hint,
            file=file,
            line=unbound.line or element.sourceline,
            element_id=element.get("id"),
        )


def _callout_topics(handlers: HandlerRegistry, config: ElementConfig) -> set[str]:
    """The topics of the handlers an element's delegate and listeners call."""
    found = [handlers.delegate(*config.java_delegate) if config.java_delegate else None]
    for listener in config.listeners:
        if listener.delegate is not None:
            found.append(handlers.delegate(*listener.delegate))
        elif listener.job_type is not None:
            found.append(handlers.get(listener.job_type))
    return {handler.topic for handler in found if handler is not None}


def _outdated_template(file: str, node: FlowNode, handler: RegisteredHandler) -> Iterator[Finding]:
    """A task that carries this handler's element template in a version other than the one the
    handler's signature gives now: the inputs Modeler shows for it are stale."""
    for namespace in (ZEEBE, CAMUNDA):
        applied = node.element.get(f"{{{namespace}}}modelerTemplate")
        if applied != template_id(handler.topic):
            continue
        version = node.element.get(f"{{{namespace}}}modelerTemplateVersion")
        current = template_version(handler)
        if version != str(current):
            yield RULES["template-outdated"].at(
                node.element,
                file,
                f"the task uses element template '{applied}' version {version or '(none)'}, "
                f"but handler '{handler.topic}' now has version {current}",
                "regenerate the templates (retailflow templates), reload them in Modeler and "
                "update the task's template (Modeler offers the update)",
            )


def _single_variable(source: str | None) -> str | None:
    if not source:
        return None
    matched = _PATH.fullmatch(source)
    return matched.group(1) if matched else None


def _unused(handlers: HandlerRegistry, used: set[str]) -> Iterator[Finding]:
    for handler in handlers:
        if handler.topic in used:
            continue
        file, line = _source_of(handler)
        yield RULES["handler-unused"].report(
            f"handler '{handler.topic}' is registered, but no task in these files has that "
            "job type",
            "delete the handler, or validate it together with the files that use it",
            file=file,
            line=line,
            element_id=handler.topic,
        )


def _source_of(handler: RegisteredHandler) -> tuple[str | None, int | None]:
    """Where the handler function is defined, so the finding points at the code."""
    function = inspect.unwrap(handler.function)
    try:
        file = inspect.getsourcefile(function)
        _, line = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return None, None
    if file is None:
        return None, line
    path = Path(file)
    with suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return path.as_posix(), line
