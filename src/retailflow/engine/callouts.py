"""Running the registered handlers of Camunda 7 delegates and of listeners, inside a step.

The seam says what an element calls (a ``Callout``); this module finds the handler in the
registry (``HandlerRegistry.delegate`` for Camunda 7 names, the job type for Camunda 8
listeners), gives it the element's variables (a delegate's input mappings applied, as its
local variables in Camunda 7) and returns what it writes. A failure becomes a
``CalloutError`` naming the handler, the element and the instance: the step is undone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from retailflow.bpmn.extensions import ElementConfig
from retailflow.engine.spiff import Callout, CalloutRunner
from retailflow.engine.variables import map_inputs, map_outputs
from retailflow.expressions import ExpressionEngine
from retailflow.handlers import HandlerContext, HandlerLoop, HandlerRegistry, RegisteredHandler
from retailflow.handlers.delegates import describe_delegate
from retailflow.model import BpmnError, CalloutError, Instance

logger = logging.getLogger(__name__)


class CalloutHandlers:
    """The engine's handlers, as delegates, listeners and service jobs call them: an async
    handler runs on the engine's ``HandlerLoop``."""

    def __init__(
        self, handlers: HandlerRegistry, expressions: ExpressionEngine, loop: HandlerLoop
    ) -> None:
        self._handlers = handlers
        self._expressions = expressions
        self._loop = loop

    def invoke(
        self, handler: RegisteredHandler, variables: Mapping[str, Any], context: HandlerContext
    ) -> dict[str, Any]:
        """Call ``handler`` as the engine does, on the engine's loop when it is async."""
        return handler.invoke(variables, context, loop=self._loop)

    def handler_of(self, callout: Callout) -> RegisteredHandler | None:
        """The handler a callout names, or None when none is registered."""
        if callout.delegate is not None:
            return self._handlers.delegate(*callout.delegate)
        return self._handlers.get(callout.job_type or "")

    def job_handler(self, config: ElementConfig, topic: str) -> RegisteredHandler | None:
        """The handler of a service job: by its job type, or for a Camunda 7 delegate behind
        ``asyncBefore``, by the delegate's names."""
        if config.java_delegate is not None and not config.job_type:
            return self._handlers.delegate(*config.java_delegate)
        return self._handlers.get(topic)

    def runner(self, instance: Instance) -> CalloutRunner:
        """How the callouts of ``instance`` run."""

        def run(callout: Callout) -> dict[str, Any]:
            return self._run(instance, callout)

        return run

    def _run(self, instance: Instance, callout: Callout) -> dict[str, Any]:
        what = _describe(callout)
        handler = self.handler_of(callout)
        if handler is None:
            raise CalloutError(
                f"no handler is registered for the {what} of element "
                f"'{callout.element_id}' in instance '{instance.id}'; register "
                "one (see docs/migrating-from-camunda-7.md)",
                element_id=callout.element_id,
            )
        listener = callout.event is not None
        context = HandlerContext(
            instance_id=instance.id,
            business_key=instance.business_key,
            process_id=instance.process_id,
            definition_id=instance.definition_id,
            element_id=callout.element_id,
            job_id=f"{callout.task_id}:{callout.event}" if listener else callout.task_id,
            topic=handler.topic,
            attempt=1,
            headers=callout.config.headers,
        )
        config = callout.config
        try:
            if listener:
                return self.invoke(handler, callout.variables, context)
            inputs = map_inputs(
                config.inputs, callout.variables, self._expressions, callout.element_id
            )
            result = self.invoke(handler, inputs, context)
            if (
                config.result_variable
                and callout.delegate is not None
                and callout.delegate[0] == "expression"
            ):
                result = {config.result_variable: result}
            return map_outputs(
                config.outputs, inputs, result, self._expressions, callout.element_id
            )
        except BpmnError as error:
            if not listener:
                raise
            raise CalloutError(
                f"the {what} of element '{callout.element_id}' threw BPMN error "
                f"'{error.code}'; listeners cannot take error paths, so throw it "
                "from a service task",
                element_id=callout.element_id,
            ) from error
        except Exception as error:
            logger.warning(
                "handler '%s' for the %s failed at %s of instance %s",
                handler.topic,
                what,
                callout.element_id,
                instance.id,
                exc_info=True,
                extra={"instance_id": instance.id, "element_id": callout.element_id},
            )
            raise CalloutError(
                f"handler '{handler.topic}' for the {what} failed at element "
                f"'{callout.element_id}' of instance '{instance.id}': "
                f"{type(error).__name__}: {error}",
                element_id=callout.element_id,
            ) from error


def _describe(callout: Callout) -> str:
    """``delegate camunda:class="..."``, ``start listener of type 'audit'`` ..."""
    if callout.event is None and callout.delegate is not None:
        return f"delegate {describe_delegate(*callout.delegate)}"
    if callout.delegate is not None:
        return f"{callout.event} listener {describe_delegate(*callout.delegate)}"
    return f"{callout.event} listener of type '{callout.job_type}'"
