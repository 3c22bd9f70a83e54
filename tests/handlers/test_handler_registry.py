"""Which function runs each topic, and how registries of several areas compose."""

from __future__ import annotations

import pytest

from retailflow.handlers import HandlerContext, HandlerRegistry, RegisteredHandler
from retailflow.model import RetailflowError

inventory = HandlerRegistry()


@inventory.handler("inventory.reserve", retries=5, timeout=30.0)
def reserve(sku: str, quantity: int) -> dict[str, int]:
    return {"reserved": quantity}


@inventory.handler("inventory.release")
def release(sku: str) -> None: ...


def reserve_elsewhere(sku: str) -> None: ...


def test_the_decorator_returns_the_function_itself_so_it_stays_unit_testable() -> None:
    assert reserve.__name__ == "reserve"
    assert reserve("A", 3) == {"reserved": 3}
    found = inventory.get("inventory.reserve")
    assert found is not None
    assert found.function is reserve


def test_a_registry_answers_by_topic_and_lists_its_handlers_in_registration_order() -> None:
    assert "inventory.reserve" in inventory
    assert "inventory.unknown" not in inventory
    assert inventory.get("inventory.unknown") is None
    assert inventory.topics() == ["inventory.reserve", "inventory.release"]
    assert len(inventory) == 2
    assert [handler.function for handler in inventory] == [reserve, release]
    assert all(isinstance(handler, RegisteredHandler) for handler in inventory)


def test_retries_and_timeout_are_kept_and_default_to_unset() -> None:
    reserving = inventory.get("inventory.reserve")
    releasing = inventory.get("inventory.release")
    assert reserving is not None and releasing is not None
    assert (reserving.retries, reserving.timeout) == (5, 30.0)
    assert (releasing.retries, releasing.timeout) == (None, None)


def test_register_without_the_decorator_returns_the_registered_handler(
    context: HandlerContext,
) -> None:
    registry = HandlerRegistry()
    registered = registry.register("inventory.reserve", reserve, retries=2)
    assert registry.get("inventory.reserve") is registered
    assert registered.invoke({"sku": "A", "quantity": 4}, context) == {"reserved": 4}


def test_a_second_handler_for_a_topic_is_refused_naming_the_one_that_holds_it() -> None:
    registry = HandlerRegistry()
    registry.register("inventory.reserve", reserve)
    with pytest.raises(RetailflowError) as raised:
        registry.register("inventory.reserve", reserve_elsewhere)
    message = str(raised.value)
    assert "'inventory.reserve'" in message
    assert "already handled by test_handler_registry.reserve" in message
    assert "test_handler_registry.reserve_elsewhere cannot have it" in message
    assert registry.get("inventory.reserve") is not None
    assert registry.get("inventory.reserve").function is reserve  # type: ignore[union-attr]


def test_include_composes_registries_of_several_areas() -> None:
    orders = HandlerRegistry()

    @orders.handler("orders.confirm")
    def confirm(order_id: str) -> None: ...

    app = HandlerRegistry()
    app.include(inventory)
    app.include(orders)
    assert app.topics() == ["inventory.reserve", "inventory.release", "orders.confirm"]
    assert app.get("inventory.reserve") is inventory.get("inventory.reserve")


def test_include_with_a_clashing_topic_names_both_functions_and_adds_nothing() -> None:
    other = HandlerRegistry()
    other.register("shipping.book", release)
    other.register("inventory.reserve", reserve_elsewhere)
    app = HandlerRegistry()
    app.include(inventory)
    with pytest.raises(RetailflowError) as raised:
        app.include(other)
    message = str(raised.value)
    assert "test_handler_registry.reserve," in message
    assert "test_handler_registry.reserve_elsewhere" in message
    assert "shipping.book" not in app


def test_including_the_same_shared_registry_through_two_paths_is_harmless() -> None:
    storefront = HandlerRegistry()
    storefront.include(inventory)
    back_office = HandlerRegistry()
    back_office.include(inventory)
    app = HandlerRegistry()
    app.include(storefront)
    app.include(back_office)
    assert app.topics() == inventory.topics()


def test_including_a_registry_later_changed_does_not_pick_up_its_new_handlers() -> None:
    area = HandlerRegistry()
    app = HandlerRegistry()
    app.include(area)
    area.register("late.topic", release)
    assert "late.topic" not in app
