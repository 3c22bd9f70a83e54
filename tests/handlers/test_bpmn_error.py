"""BpmnError carries a modelled business outcome to the diagram's error catch."""

from __future__ import annotations

import pickle

import pytest

from retailflow.handlers import BpmnError
from retailflow.model import RetailflowError


def test_a_bpmn_error_carries_its_code_message_and_variables() -> None:
    error = BpmnError("OUT_OF_STOCK", "SKU A-1 sold out", {"missing_skus": ["A-1"]})
    assert (error.code, error.message) == ("OUT_OF_STOCK", "SKU A-1 sold out")
    assert dict(error.variables) == {"missing_skus": ["A-1"]}
    assert str(error) == "BPMN error 'OUT_OF_STOCK': SKU A-1 sold out"


def test_a_bpmn_error_without_message_or_variables_says_its_code() -> None:
    error = BpmnError("PAYMENT_DECLINED")
    assert str(error) == "BPMN error 'PAYMENT_DECLINED'"
    assert dict(error.variables) == {}


def test_the_variables_cannot_be_changed_after_raising() -> None:
    variables = {"reason": "sold out"}
    error = BpmnError("OUT_OF_STOCK", variables=variables)
    variables["reason"] = "changed"
    assert error.variables["reason"] == "sold out"
    with pytest.raises(TypeError):
        error.variables["reason"] = "again"  # type: ignore[index]


@pytest.mark.parametrize("code", ["", "  "])
def test_a_bpmn_error_needs_a_code(code: str) -> None:
    with pytest.raises(RetailflowError, match="non-empty error code"):
        BpmnError(code)


def test_a_bpmn_error_survives_crossing_a_process_boundary() -> None:
    error = BpmnError("OUT_OF_STOCK", "sold out", {"sku": "A-1"})
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message, dict(copy.variables), str(copy)) == (
        "OUT_OF_STOCK",
        "sold out",
        {"sku": "A-1"},
        str(error),
    )
