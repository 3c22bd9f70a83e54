"""Element templates generated from handlers: what Modeler shows an analyst for each handler."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from retailflow.cli.app import app
from retailflow.element_templates import element_template, template_version, write_templates
from retailflow.handlers import HandlerContext, HandlerRegistry
from retailflow.retail import registry as retail_registry

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
COMMITTED = ROOT / "processes" / ".camunda" / "element-templates"
SCHEMAS = {
    "c8": json.loads((HERE / "schemas" / "zeebe-element-templates-0.46.0.json").read_text()),
    "c7": json.loads((HERE / "schemas" / "element-templates-0.22.1.json").read_text()),
}


class Carrier(enum.Enum):
    DHL = "dhl"
    UPS = "ups"


class ShipRequest(BaseModel):
    order_id: str = Field(description="The order to ship.")
    carrier: Carrier = Carrier.DHL
    speed: Literal["standard", "express"] = "standard"
    parcels: int = Field(1, description="How many parcels.")
    insured: bool = False
    lines: list[str]


class Shipment(BaseModel):
    tracking_number: str
    shipped: bool


shop = HandlerRegistry()


@shop.handler("orders.ship", retries=5)
def ship(request: ShipRequest, context: HandlerContext) -> Shipment:
    """Hand the parcels to the carrier.

    The rest of the docstring is not the template's description."""
    return Shipment(tracking_number="T1", shipped=True)


@shop.handler("orders.note")
def note(order_id: str, text: str = "thanks", urgent: bool = False, **rest: Any) -> None:
    """Write a note on the order."""


def assert_valid(template: dict[str, Any], target: str) -> None:
    errors = [
        f"{list(error.path)}: {error.message}"
        for error in jsonschema.Draft7Validator(SCHEMAS[target]).iter_errors(template)
    ]
    assert errors == [], template["id"]


def by_binding(template: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {prop["binding"].get(key, ""): prop for prop in template["properties"]}


@pytest.mark.parametrize("target", ["c8", "c7"])
def test_every_generated_template_is_valid_against_camundas_schema(target: str) -> None:
    for handler in [*shop, *retail_registry()]:
        assert_valid(element_template(handler, target), target)  # type: ignore[arg-type]


def test_camunda8_template_fixes_the_job_type_and_offers_an_input_per_model_field() -> None:
    template = element_template(shop.get("orders.ship"), "c8")  # type: ignore[arg-type]

    assert template["id"] == "retailflow.orders.ship"
    assert template["description"] == "Hand the parcels to the carrier."
    properties = by_binding(template, "name")
    task_type = next(
        p
        for p in template["properties"]
        if p["binding"] == {"type": "zeebe:taskDefinition", "property": "type"}
    )
    assert task_type == {"type": "Hidden", "value": "orders.ship", "binding": task_type["binding"]}
    retries = next(p for p in template["properties"] if p["binding"].get("property") == "retries")
    assert retries["value"] == "5"
    assert properties["order_id"]["binding"] == {"type": "zeebe:input", "name": "order_id"}
    assert properties["order_id"]["description"] == "The order to ship."
    assert properties["order_id"]["constraints"] == {"notEmpty": True}
    assert properties["order_id"]["value"] == "=order_id"  # passes the variable of that name
    assert properties["speed"]["optional"] is True  # left empty, no mapping is written
    assert properties["carrier"]["type"] == "Dropdown"
    assert [c["value"] for c in properties["carrier"]["choices"]] == ["dhl", "ups"]
    assert properties["carrier"]["value"] == "dhl"
    assert [c["value"] for c in properties["speed"]["choices"]] == ["standard", "express"]
    assert (properties["parcels"]["type"], properties["parcels"]["value"]) == ("Number", 1)
    assert (properties["insured"]["type"], properties["insured"]["value"]) == ("Boolean", False)
    assert properties["lines"]["feel"] == "required"  # a list takes an expression
    assert "constraints" not in properties["speed"]
    assert "context" not in properties  # the HandlerContext is no variable
    outputs = by_binding(template, "source")
    assert outputs["=tracking_number"]["value"] == "tracking_number"
    assert outputs["=shipped"]["binding"]["type"] == "zeebe:output"
    headers = [p for p in template["properties"] if p["binding"]["type"] == "zeebe:taskHeader"]
    assert headers[0]["value"].endswith(".ship")


def test_camunda7_template_is_an_external_task_with_input_and_output_parameters() -> None:
    template = element_template(shop.get("orders.note"), "c7")  # type: ignore[arg-type]

    properties = by_binding(template, "name")
    assert properties["camunda:type"]["value"] == "external"
    assert properties["camunda:topic"] == {
        "type": "Hidden",
        "value": "orders.note",
        "binding": {"type": "property", "name": "camunda:topic"},
    }
    assert properties["order_id"]["binding"]["type"] == "camunda:inputParameter"
    assert properties["order_id"]["constraints"] == {"notEmpty": True}
    assert properties["order_id"]["value"] == "${order_id}"
    assert properties["text"]["value"] == "thanks"
    assert (properties["urgent"]["type"], properties["urgent"]["value"]) == ("String", "false")
    shipped = element_template(shop.get("orders.ship"), "c7")  # type: ignore[arg-type]
    assert by_binding(shipped, "source")["${tracking_number}"]["binding"]["type"] == (
        "camunda:outputParameter"
    )


def test_version_changes_with_the_signature_and_not_with_the_docstring() -> None:
    before = HandlerRegistry()
    after = HandlerRegistry()
    reworded = HandlerRegistry()

    @before.handler("orders.note")
    def note_v1(order_id: str) -> None:
        """One."""

    @reworded.handler("orders.note")
    def note_v1_reworded(order_id: str) -> None:
        """Reworded."""

    @after.handler("orders.note")
    def note_v2(order_id: str, text: str) -> None:
        """One."""

    [v1], [v1_reworded], [v2] = (
        [template_version(h) for h in registry] for registry in (before, reworded, after)
    )
    assert v1 == v1_reworded
    assert v1 != v2
    assert 0 < v2 < 2**31


def test_the_committed_retail_templates_are_current() -> None:
    """Regenerate: `retailflow templates --handlers retailflow.retail:registry --target c8
    -o processes/.camunda/element-templates` (and again with --target c7)."""
    expected = {}
    for target in ("c8", "c7"):
        for handler in retail_registry():
            template = element_template(handler, target)  # type: ignore[arg-type]
            expected[f"{template['id']}.{target}.json"] = template
    committed = {path.name: json.loads(path.read_text()) for path in COMMITTED.glob("*.json")}
    assert sorted(committed) == sorted(expected)
    stale = [name for name, template in expected.items() if committed[name] != template]
    assert stale == []


def test_the_templates_command_writes_a_file_per_handler(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "templates",
            "--handlers",
            "retailflow.retail:registry",
            "--target",
            "c7",
            "-o",
            str(tmp_path / "out"),
        ],
    )

    assert result.exit_code == 0, result.output
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert len(written) == len(retail_registry())
    assert "retailflow.inventory.reserve.c7.json" in written
    assert_valid(json.loads((tmp_path / "out" / written[0]).read_text()), "c7")


def test_write_templates_returns_the_paths_it_wrote(tmp_path: Path) -> None:
    paths = write_templates(shop, "c8", tmp_path)

    assert [path.name for path in paths] == [
        "retailflow.orders.ship.c8.json",
        "retailflow.orders.note.c8.json",
    ]
