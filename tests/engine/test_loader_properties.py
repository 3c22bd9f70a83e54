"""Whatever a file contains, deploying it ends in a deployment or a DeploymentError."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from retailflow import DeploymentError, Engine
from scenario_kit import FIXTURES

SEEDS = [
    FIXTURES / "order_fulfilment_c8.bpmn",
    FIXTURES / "gateways.bpmn",
    FIXTURES / "event_subprocess.bpmn",
    FIXTURES / "multi_instance.bpmn",
    FIXTURES / "boundaries.bpmn",
    FIXTURES / "timers.bpmn",
]


def mutate(content: bytes, seed: int, edits: int) -> bytes:
    """Drop attributes or elements, or point references at nothing, as a careless edit would."""
    rng = random.Random(seed)
    root = etree.fromstring(content)
    for _ in range(edits):
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        element = rng.choice(elements)
        action = rng.choice(["drop-attribute", "drop-element", "dangle-reference", "empty-text"])
        if action == "drop-attribute" and element.attrib:
            del element.attrib[rng.choice(sorted(element.attrib))]
        elif action == "drop-element" and element.getparent() is not None:
            element.getparent().remove(element)
        elif action == "dangle-reference":
            for name in (
                "sourceRef",
                "targetRef",
                "attachedToRef",
                "default",
                "messageRef",
                "errorRef",
                "bpmnElement",
            ):
                if name in element.attrib:
                    element.attrib[name] = "nowhere"
        elif action == "empty-text":
            element.text = rng.choice(["", "=", "${", "PT", "R/", "==", "1 +"])
    return etree.tostring(root)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed_file=st.sampled_from(SEEDS), seed=st.integers(0, 10**6), edits=st.integers(1, 4))
def test_a_mutated_file_deploys_or_is_refused_with_findings_never_a_crash(
    tmp_path_factory, seed_file, seed: int, edits: int
) -> None:
    path = tmp_path_factory.mktemp("mutated") / seed_file.name
    path.write_bytes(mutate(seed_file.read_bytes(), seed, edits))
    with Engine() as engine:
        try:
            engine.deploy(path, require_handlers=False)
        except DeploymentError as refused:
            assert refused.findings
            assert all(f.file and f.rule and f.message for f in refused.findings)


@settings(max_examples=40, deadline=None)
@given(content=st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_finding(tmp_path_factory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "random.bpmn"
    path.write_bytes(content)
    with Engine() as engine:
        try:
            engine.deploy(path, require_handlers=False)
        except DeploymentError as refused:
            assert refused.findings
