"""How a handler's signature reads process variables and how its return value writes them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NotRequired, TypedDict

import pytest
from pydantic import BaseModel, ConfigDict, Field

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry, RegisteredHandler
from retailflow.model import HandlerInputError, RetailflowError


class ReserveRequest(BaseModel):
    sku: str
    quantity: int = Field(gt=0)
    warehouse: str = "main"


class ReserveResult(BaseModel):
    reservation_id: str
    reserved_at: dt.datetime
    price: Decimal


class Shipped(enum.Enum):
    YES = "yes"


class Receipt(ReserveResult):
    reserved_on: dt.date
    lines: tuple[dt.date, ...]
    shipped: Shipped
    parcel: uuid.UUID


@dataclasses.dataclass
class Shipment:
    carrier: str
    parcels: int


def bind(function: Any, topic: str = "inventory.reserve") -> RegisteredHandler:
    registry = HandlerRegistry()
    return registry.register(topic, function)


# --- reading variables by parameter name ------------------------------------------------------


def test_parameters_read_the_variables_of_the_same_name(context: HandlerContext) -> None:
    def reserve(sku: str, quantity: int) -> dict[str, Any]:
        return {"reserved": f"{quantity}x{sku}"}

    assert bind(reserve).invoke({"sku": "A-1", "quantity": 2, "other": True}, context) == {
        "reserved": "2xA-1"
    }


def test_a_missing_variable_is_reported_with_the_topic_and_the_variable(
    context: HandlerContext,
) -> None:
    def reserve(sku: str, quantity: int) -> None:
        raise AssertionError("must not be called without its inputs")

    with pytest.raises(HandlerInputError) as raised:
        bind(reserve).invoke({"quantity": 2}, context)
    assert str(raised.value).startswith(
        "handler 'inventory.reserve' needs variable 'sku', which the process does not have at "
        "this task"
    )


def test_every_missing_variable_is_named_at_once(context: HandlerContext) -> None:
    def reserve(sku: str, quantity: int) -> None: ...

    with pytest.raises(HandlerInputError, match="needs variables 'sku', 'quantity', which"):
        bind(reserve).invoke({}, context)


def test_a_default_applies_only_when_the_variable_is_absent(context: HandlerContext) -> None:
    def reserve(sku: str, warehouse: str = "main") -> dict[str, str]:
        return {"where": f"{sku}@{warehouse}"}

    handler = bind(reserve)
    assert handler.invoke({"sku": "A"}, context) == {"where": "A@main"}
    assert handler.invoke({"sku": "A", "warehouse": "north"}, context) == {"where": "A@north"}


def test_a_variable_set_to_none_is_passed_as_none_not_replaced_by_the_default(
    context: HandlerContext,
) -> None:
    def reserve(warehouse: str | None = "main") -> dict[str, Any]:
        return {"where": warehouse}

    assert bind(reserve).invoke({"warehouse": None}, context) == {"where": None}


def test_keyword_only_parameters_read_variables_too(context: HandlerContext) -> None:
    def reserve(*, sku: str) -> dict[str, str]:
        return {"sku": sku}

    assert bind(reserve).invoke({"sku": "A"}, context) == {"sku": "A"}


def test_double_star_parameter_receives_the_variables_no_named_parameter_took(
    context: HandlerContext,
) -> None:
    seen: dict[str, Any] = {}

    def audit(sku: str, ctx: HandlerContext, **variables: Any) -> None:
        seen.update(variables)

    bind(audit).invoke(
        {"sku": "A", "ctx": "a variable named ctx", "total": 9, "note-1": "x"}, context
    )
    assert seen == {"total": 9, "note-1": "x"}


def test_double_star_parameter_refuses_a_variable_name_that_is_not_a_string(
    context: HandlerContext,
) -> None:
    def audit(**variables: Any) -> None: ...

    with pytest.raises(HandlerInputError, match="variable named 3, which is not a string"):
        bind(audit).invoke({3: "x"}, context)  # type: ignore[dict-item]


# --- the job context ---------------------------------------------------------------------------


def test_a_parameter_annotated_handler_context_receives_the_job_context(
    context: HandlerContext,
) -> None:
    def reserve(sku: str, job: HandlerContext) -> dict[str, str]:
        return {"key": job.idempotency_key, "warehouse": job.headers["warehouse"]}

    assert bind(reserve).invoke({"sku": "A", "job": "not this"}, context) == {
        "key": "inst-1:reserve_stock:job-7",
        "warehouse": "north",
    }


def test_a_context_parameter_is_not_an_input_the_process_must_provide() -> None:
    def reserve(sku: str, context: HandlerContext) -> None: ...

    assert bind(reserve).required_inputs == {"sku"}


# --- pydantic models in ------------------------------------------------------------------------


def test_a_model_parameter_is_validated_from_all_variables_ignoring_extra_ones(
    context: HandlerContext,
) -> None:
    received: list[ReserveRequest] = []

    def reserve(request: ReserveRequest) -> None:
        received.append(request)

    bind(reserve).invoke({"sku": "A", "quantity": "3", "customer": "C-9"}, context)
    assert received == [ReserveRequest(sku="A", quantity=3, warehouse="main")]


def test_invalid_variables_for_a_model_name_the_topic_the_field_and_the_problem(
    context: HandlerContext,
) -> None:
    called = []

    def reserve(request: ReserveRequest) -> None:
        called.append(request)

    with pytest.raises(HandlerInputError) as raised:
        bind(reserve).invoke({"sku": "A", "quantity": "three"}, context)
    message = str(raised.value)
    assert "handler 'inventory.reserve'" in message
    assert "ReserveRequest" in message
    assert "'quantity'" in message
    assert "valid integer" in message
    assert "'three'" in message
    assert called == []


def test_a_missing_model_field_is_named_as_missing(context: HandlerContext) -> None:
    def reserve(request: ReserveRequest) -> None: ...

    with pytest.raises(
        HandlerInputError, match="'sku' is missing; 'quantity': Input should be greater than 0"
    ):
        bind(reserve).invoke({"quantity": 0}, context)


def test_a_long_rejected_value_is_shortened_in_the_message(context: HandlerContext) -> None:
    def reserve(request: ReserveRequest) -> None: ...

    with pytest.raises(HandlerInputError) as raised:
        bind(reserve).invoke({"sku": "A", "quantity": "x" * 5000}, context)
    assert len(str(raised.value)) < 400


def test_a_model_combines_with_plain_parameters_and_the_context(context: HandlerContext) -> None:
    def reserve(request: ReserveRequest, customer: str, job: HandlerContext) -> dict[str, Any]:
        return {"line": f"{customer}:{request.sku}:{job.attempt}"}

    assert bind(reserve).invoke({"sku": "A", "quantity": 1, "customer": "C-9"}, context) == {
        "line": "C-9:A:1"
    }


def test_a_model_defined_inside_a_function_resolves(context: HandlerContext) -> None:
    class LocalRequest(BaseModel):
        sku: str

    registry = HandlerRegistry()

    @registry.handler("local")
    def local(request: LocalRequest) -> dict[str, str]:
        return {"sku": request.sku}

    registered = registry.get("local")
    assert registered is not None
    assert registered.input_model is LocalRequest
    assert registered.invoke({"sku": "A"}, context) == {"sku": "A"}


# --- return values become the written variables ------------------------------------------------


def test_returning_none_writes_nothing(context: HandlerContext) -> None:
    def notify() -> None:
        return None

    assert bind(notify).invoke({}, context) == {}


def test_a_returned_model_keeps_its_variable_types_and_writes_the_rest_in_json_form(
    context: HandlerContext,
) -> None:
    def reserve() -> Receipt:
        return Receipt(
            reservation_id="R-1",
            reserved_at=dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC),
            price=Decimal("9.90"),
            reserved_on=dt.date(2024, 5, 1),
            lines=(dt.date(2024, 5, 2),),
            shipped=Shipped.YES,
            parcel=uuid.UUID(int=1),
        )

    written = bind(reserve).invoke({}, context)

    assert written == {
        "reservation_id": "R-1",
        "reserved_at": dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC),
        "price": Decimal("9.90"),
        "reserved_on": dt.date(2024, 5, 1),
        "lines": [dt.date(2024, 5, 2)],
        "shipped": "yes",
        "parcel": "00000000-0000-0000-0000-000000000001",
    }
    assert type(written["price"]) is Decimal


def test_a_returned_mapping_is_copied_into_a_dict(context: HandlerContext) -> None:
    kept = {"status": "ok"}

    def read_only() -> MappingProxyType[str, str]:
        return MappingProxyType(kept)

    written = bind(read_only).invoke({}, context)
    assert written == {"status": "ok"}
    assert type(written) is dict
    written["status"] = "changed"
    assert kept == {"status": "ok"}


def test_a_returned_dataclass_is_written_field_by_field(context: HandlerContext) -> None:
    def ship() -> Shipment:
        return Shipment(carrier="DHL", parcels=2)

    assert bind(ship).invoke({}, context) == {"carrier": "DHL", "parcels": 2}


@pytest.mark.parametrize("returned", [42, "done", ["a"], Shipment])
def test_returning_anything_else_is_a_programming_error_not_an_input_error(
    context: HandlerContext, returned: object
) -> None:
    def broken() -> Any:
        return returned

    with pytest.raises(RetailflowError, match="must return a mapping, a pydantic model") as raised:
        bind(broken).invoke({}, context)
    assert not isinstance(raised.value, HandlerInputError)


@pytest.mark.parametrize("raised", [BpmnError("OUT_OF_STOCK"), ConnectionError("down")])
def test_what_the_handler_raises_passes_through_unchanged(
    context: HandlerContext, raised: Exception
) -> None:
    def reserve(sku: str) -> None:
        raise raised

    with pytest.raises(type(raised)) as caught:
        bind(reserve).invoke({"sku": "A"}, context)
    assert caught.value is raised


# --- async handlers ----------------------------------------------------------------------------


def test_an_async_handler_runs_to_completion_and_writes_its_result(context: HandlerContext) -> None:
    async def reserve(sku: str) -> dict[str, str]:
        return {"sku": sku}

    handler = bind(reserve)
    assert handler.is_async
    assert handler.invoke({"sku": "A"}, context) == {"sku": "A"}


def test_an_object_with_an_async_call_method_is_an_async_handler(context: HandlerContext) -> None:
    class Reserver:
        async def __call__(self, sku: str) -> dict[str, str]:
            return {"sku": sku}

    assert bind(Reserver()).invoke({"sku": "A"}, context) == {"sku": "A"}


def test_an_async_handler_invoked_inside_a_running_loop_is_refused_without_running(
    context: HandlerContext,
) -> None:
    import asyncio

    calls = []

    async def reserve(sku: str) -> None:
        calls.append(sku)

    handler = bind(reserve)

    async def inside_a_loop() -> None:
        with pytest.raises(RetailflowError, match=r"asyncio\.to_thread"):
            handler.invoke({"sku": "A"}, context)
        # The workaround the message names does work.
        assert await asyncio.to_thread(handler.invoke, {"sku": "B"}, context) == {}

    asyncio.run(inside_a_loop())
    assert calls == ["B"]


# --- what registration refuses -----------------------------------------------------------------


def _star_args(*skus: str) -> None: ...


def _positional_only(sku: str, /) -> None: ...


def _two_models(first: ReserveRequest, second: ReserveRequest) -> None: ...


def _generator(sku: str) -> Any:
    yield {"sku": sku}


@pytest.mark.parametrize(
    ("function", "reason"),
    [
        (_star_args, "parameter 'skus' that cannot be passed by name"),
        (_positional_only, "parameter 'sku' that cannot be passed by name"),
        (_two_models, "two pydantic models"),
        (_generator, "is a generator"),
    ],
)
def test_a_signature_that_cannot_be_bound_is_refused_at_registration(
    function: Any, reason: str
) -> None:
    with pytest.raises(RetailflowError, match=reason) as raised:
        bind(function)
    assert function.__qualname__ in str(raised.value)
    assert "inventory.reserve" in str(raised.value)


def test_an_annotation_that_cannot_be_resolved_is_refused_at_registration() -> None:
    def reserve(request: NoSuchModel) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(RetailflowError, match=r"annotation that cannot be resolved.*NoSuchModel"):
        bind(reserve)


@pytest.mark.parametrize(
    "settings", [{"retries": 0}, {"retries": 2.5}, {"timeout": 0}, {"timeout": "30s"}]
)
def test_nonsense_retries_and_timeouts_are_refused(settings: dict[str, Any]) -> None:
    def reserve() -> None: ...

    with pytest.raises(RetailflowError, match=next(iter(settings))):
        HandlerRegistry().register("inventory.reserve", reserve, **settings)


@pytest.mark.parametrize("topic", ["", "   "])
def test_a_blank_topic_is_refused(topic: str) -> None:
    def reserve() -> None: ...

    with pytest.raises(RetailflowError, match="non-empty string"):
        HandlerRegistry().register(topic, reserve)


# --- introspection for checking diagrams against code ------------------------------------------


class AliasedRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    order_id: str = Field(alias="orderId")
    note: str | None = None


class ReserveOutput(BaseModel):
    reservation_id: str


def test_inputs_list_required_and_optional_variables_from_parameters_and_model() -> None:
    def reserve(
        request: AliasedRequest,
        customer: str,
        channel: str = "web",
        ctx: HandlerContext | None = None,
        **rest: Any,
    ) -> None: ...

    handler = bind(reserve)
    assert handler.input_model is AliasedRequest
    assert handler.required_inputs == {"orderId", "customer"}
    assert handler.optional_inputs == {"note", "channel", "ctx"}
    assert handler.reads_all_variables


def test_a_plain_handler_has_no_input_model_and_reads_only_its_parameters() -> None:
    def reserve(sku: str) -> None: ...

    handler = bind(reserve)
    assert handler.input_model is None
    assert handler.optional_inputs == frozenset()
    assert not handler.reads_all_variables


class Picked(TypedDict):
    picked: int
    missing_skus: NotRequired[list[str]]


def _returns_model() -> ReserveOutput: ...
def _returns_optional_model() -> ReserveOutput | None: ...
def _returns_dataclass() -> Shipment: ...
def _returns_none() -> None: ...
def _returns_dict() -> dict[str, Any]: ...
def _returns_unannotated(): ...  # type: ignore[no-untyped-def]


@pytest.mark.parametrize(
    ("function", "fields"),
    [
        (_returns_model, {"reservation_id"}),
        (_returns_optional_model, {"reservation_id"}),
        (_returns_dataclass, {"carrier", "parcels"}),
        (_returns_none, set()),
        (_returns_dict, None),
        (_returns_unannotated, None),
    ],
)
def test_output_fields_follow_the_return_annotation(function: Any, fields: set[str] | None) -> None:
    assert bind(function).output_fields == (None if fields is None else frozenset(fields))


def test_output_fields_of_a_typed_dict_are_its_keys() -> None:
    def pick() -> Picked: ...

    assert bind(pick).output_fields == {"picked", "missing_skus"}
