"""run() commits the steps of many instances in one transaction; one that another writer moved
on meanwhile is refused alone and taken again, while the others commit."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from retailflow import Engine, HandlerRegistry, InstanceStatus

# Packing and approval run in parallel: a clerk can approve while the packing handler runs.
PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="defs"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="pack_and_approve" isExecutable="true">
    <bpmn:startEvent id="ordered"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="ordered" targetRef="split" />
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="pack" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="approve" />
    <bpmn:serviceTask id="pack">
      <bpmn:extensionElements><zeebe:taskDefinition type="warehouse.pack" />
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="approve">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f4" sourceRef="pack" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="approve" targetRef="join" />
    <bpmn:parallelGateway id="join">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="done" />
    <bpmn:endEvent id="done"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that separate engines (as separate processes would) share."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'shared.db'}"


def test_a_stale_instance_in_a_group_is_taken_again_and_the_others_commit(
    shared_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "pack_and_approve.bpmn").write_text(PARALLEL)
    url = shared_url
    clerk = Engine(url)  # another process on the same file
    packed: list[str] = []
    handlers = HandlerRegistry()

    @handlers.handler("warehouse.pack")
    def pack(order: str) -> dict[str, Any]:
        packed.append(order)
        if order == "SO-2":
            # While SO-2 is being packed, a clerk approves it: its instance moves on in the
            # database, so the step that packed it is stale when the group commits.
            [task] = clerk.tasks(instance=orders["SO-2"])
            clerk.complete_task(task.id, {"approved_by": "clerk"})
        return {"packed": True}

    engine = Engine(url, handlers=handlers)
    engine.deploy(tmp_path / "pack_and_approve.bpmn")
    orders = {
        order: engine.start("pack_and_approve", business_key=order, variables={"order": order}).id
        for order in ("SO-1", "SO-2", "SO-3")
    }
    for order in ("SO-1", "SO-3"):
        [task] = engine.tasks(instance=orders[order])
        engine.complete_task(task.id, {"approved_by": "manager"})

    with caplog.at_level(logging.INFO, logger="retailflow.engine.stepping"):
        assert engine.run() == 3

    refused = [r.instance_id for r in caplog.records if "re-applying" in r.getMessage()]
    assert refused == [orders["SO-2"]]
    # Every order is packed once (the refused step re-applies the handler's result), and
    # every instance ends, the stale one included, with both branches' variables.
    assert sorted(packed) == ["SO-1", "SO-2", "SO-3"]
    for order, instance_id in orders.items():
        instance = engine.instance(instance_id)
        assert instance.status == InstanceStatus.COMPLETED, order
        assert instance.variables["packed"] is True
        assert instance.variables["approved_by"] == ("clerk" if order == "SO-2" else "manager")
    engine.close()
    clerk.close()
