"""Instance state as bytes, with the process spec left out.

SpiffWorkflow's default serialization embeds the whole spec in every instance. The store keeps
each deployed file once, so the state here holds only the instance's own tasks and data; on
load the spec compiled from the deployment is attached again.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.helpers.spec import EventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer

from retailflow.engine.spiff.compiler import CompiledProcess
from retailflow.engine.spiff.specs import ClockTimerEventDefinition, KeyedMessageEventDefinition

STATE_FORMAT = "retailflow-state/1"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """The stock workflow converter minus the spec, which the deployment already stores."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = []
        return dct

    def from_dict(self, dct: dict[str, Any], compiled: CompiledProcess | None = None,
                  **kwargs: Any) -> BpmnWorkflow:
        if compiled is None:
            raise ValueError("a retailflow state needs its compiled process to be restored")
        workflow = self.target_class(compiled.spec, compiled.subprocess_specs,
                                     deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = []
        return workflow


class _ClockTimerConverter(EventDefinitionConverter):
    """Timers travel in task data only while an event-based gateway records what it saw."""

    def to_dict(self, event_definition: ClockTimerEventDefinition) -> dict[str, Any]:
        dct = super().to_dict(event_definition)
        dct.update(expression=event_definition.expression, kind=event_definition.kind,
                   element_id=event_definition.element_id)
        return dct


class _KeyedMessageConverter(EventDefinitionConverter):
    """Messages, for the same reason as timers."""

    def to_dict(self, event_definition: KeyedMessageEventDefinition) -> dict[str, Any]:
        dct = super().to_dict(event_definition)
        dct.update(correlation_key=event_definition.correlation_key,
                   element_id=event_definition.element_id)
        return dct


def _configure() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _SpeclessWorkflowConverter
    config[ClockTimerEventDefinition] = _ClockTimerConverter
    config[KeyedMessageEventDefinition] = _KeyedMessageConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(Decimal, lambda value: {"value": str(value)},
                      lambda dct: Decimal(dct["value"]))
    return BpmnWorkflowSerializer(registry)


class StateCodec:
    """Encodes and decodes instance state; one per engine (building it is not free)."""

    def __init__(self) -> None:
        self._serializer = _configure()
        self._encoder = create_encoder(self._serializer.registry)

    def dump(self, workflow: BpmnWorkflow) -> bytes:
        registry = self._serializer.registry
        registry._encoder_mode = True
        try:
            dct = registry.convert(workflow)
            dct["format"] = STATE_FORMAT
            return json.dumps(dct, cls=self._encoder, separators=(",", ":")).encode()
        finally:
            registry._encoder_mode = False

    def load(self, state: bytes, compiled: CompiledProcess) -> BpmnWorkflow:
        dct = json.loads(state)
        dct.pop("format", None)
        return self._serializer.registry.restore(dct, compiled=compiled)
