"""The script engine SpiffWorkflow calls for every condition, script, timer and decision.

SpiffWorkflow's stock engine runs bare ``eval``/``exec``; this one hands every expression to
retailflow's sandboxed ``ExpressionEngine`` (FEEL, JUEL or restricted Python, picked by the
expression's own prefix) and carries what the specs need from the engine: the clock, the
decision evaluator, and an outbox for signals and messages thrown to other instances.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from retailflow.decisions import RuleHits
from retailflow.expressions import ExpressionEngine, parse_timer
from retailflow.model import ExpressionError
from retailflow.model.variables import check_variables

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task

    from retailflow.expressions.timers import TimerSchedule

DecisionCallback = Callable[
    [str, Mapping[str, Any], str | None, str | None], tuple[Any, tuple[RuleHits, ...]]
]
"""``(decision_id, variables, map_result, element_id) -> (value, rules hit)`` supplied by the
engine; the rules hit go to the history."""


class _SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Covers SpiffWorkflow's few direct ``environment.evaluate`` calls (process-level
    conditions) with the same sandbox."""

    def __init__(self, expressions: ExpressionEngine) -> None:
        super().__init__({})
        self.expressions = expressions

    def evaluate(
        self,
        expression: str,
        context: Mapping[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return self.expressions.evaluate(expression, {**(external_context or {}), **context})

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        context.update(self.expressions.run_script(script, dict(context)))
        return True


class RetailScriptEngine(PythonScriptEngine):
    """One per engine; shared by every workflow it runs (it holds no per-instance state but
    the outbox, which the runtime drains after each step)."""

    def __init__(
        self, expressions: ExpressionEngine, clock: Callable[[], datetime], decide: DecisionCallback
    ) -> None:
        super().__init__(environment=_SandboxEnvironment(expressions))
        self.expressions = expressions
        self.clock = clock
        self.decide = decide
        self.outbox: list[tuple[str, str, dict[str, Any]]] = []

    def validate(self, expression: str) -> None:
        self.expressions.check(expression)

    def evaluate(
        self, task: Task, expression: str, external_context: Mapping[str, Any] | None = None
    ) -> Any:
        variables = task.data if not external_context else {**external_context, **task.data}
        return self.expressions.evaluate(expression, variables, element_id=task.task_spec.bpmn_id)

    def execute(
        self, task: Task, script: str, external_context: Mapping[str, Any] | None = None
    ) -> bool:
        variables = dict(task.data)
        if external_context:
            variables.update(external_context)
        element_id = task.task_spec.bpmn_id
        result = self.expressions.run_script(script, variables, element_id=element_id)
        check_variables(result, f"script at '{element_id}'")
        task.data.update(result)
        return True

    def call_service(self, task: Task, **kwargs: Any) -> Any:
        raise ExpressionError(
            "service tasks run as jobs, never through the script engine",
            element_id=task.task_spec.bpmn_id,
        )

    def timer_schedule(
        self, task: Task, kind: str, expression: str, *, quartz_cron: bool = False
    ) -> TimerSchedule:
        """Evaluate a timer definition against the task's data and the engine's clock."""
        return parse_timer(
            kind,
            expression,
            task.data,
            self.clock(),
            self.expressions,
            element_id=task.task_spec.bpmn_id,
            quartz_cron=quartz_cron,
        )

    def evaluate_decision(
        self, task: Task, decision_id: str, map_result: str | None, variables: Mapping[str, Any]
    ) -> tuple[Any, tuple[RuleHits, ...]]:
        """Evaluate a DMN decision for a business rule task against ``variables`` (the task's
        data overlaid with its input mappings): its value, and the rules hit by it and by the
        decisions it required."""
        return self.decide(decision_id, variables, map_result, task.task_spec.bpmn_id)
