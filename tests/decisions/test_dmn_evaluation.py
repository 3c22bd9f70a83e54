"""Decision tables and DRDs evaluated the way Camunda evaluates them."""

from __future__ import annotations

from typing import Any

import pytest
from dmn_documents import DMN11, literal, modeler_file, parse, table

from retailflow.decisions import Decision, DecisionEvaluator, DecisionResult, parse_dmn
from retailflow.expressions import ExpressionEngine
from retailflow.model import ExpressionError

EVALUATOR = DecisionEvaluator(ExpressionEngine())


def decide(
    *decisions: str, variables: dict[str, Any], decision_id: str | None = None
) -> DecisionResult:
    parsed = parse_dmn(parse(modeler_file(*decisions)), file="retail.dmn")
    by_id = {decision.id: decision for decision in parsed}
    chosen = by_id[decision_id] if decision_id else parsed[0]
    return EVALUATOR.evaluate(chosen, variables, by_id)


DISCOUNT = table(
    "discount",
    inputs=[("Customer tier", "customer.tier"), ("Order total", "total")],
    outputs=[("discount", "number")],
    rules=[
        (['"gold"', ">= 100"], ["0.15"]),
        (['"gold"', "< 100"], ["0.1"]),
        (['"silver","bronze"', "-"], ["0.05"]),
        (['not("gold", "silver", "bronze")', "[1000..5000]"], ["0.02"]),
    ],
)


@pytest.mark.parametrize(
    ("tier", "total", "expected", "rule"),
    [
        ("gold", 150, 0.15, "discount_Rule_1"),
        ("gold", 50, 0.1, "discount_Rule_2"),
        ("bronze", 10, 0.05, "discount_Rule_3"),
        ("new", 1000, 0.02, "discount_Rule_4"),
    ],
)
def test_unique_table_gives_the_single_matching_value(
    tier: str, total: int, expected: float, rule: str
) -> None:
    result = decide(DISCOUNT, variables={"customer": {"tier": tier}, "total": total})
    assert result.value == expected
    assert result.outputs == [{"discount": expected}]
    assert result.matched_rules == [rule]
    assert result.decision_id == "discount"


def test_no_matching_rule_gives_null() -> None:
    result = decide(DISCOUNT, variables={"customer": {"tier": "new"}, "total": 5})
    assert result.value is None
    assert result.matched_rules == []


def test_missing_input_variable_is_null_not_an_error() -> None:
    result = decide(DISCOUNT, variables={"total": 5})
    assert result.value is None


def test_unique_table_with_overlapping_rules_names_them() -> None:
    overlapping = table(
        "risk",
        [("Amount", "amount")],
        [("risk", "string")],
        [([">= 100"], ['"high"']), (["> 500"], ['"very high"'])],
    )
    with pytest.raises(ExpressionError, match="risk_Rule_1, risk_Rule_2") as raised:
        decide(overlapping, variables={"amount": 600})
    assert raised.value.element_id == "risk"


def test_several_outputs_give_a_dict() -> None:
    routing = table(
        "routing",
        [("Weight", "weight")],
        [("carrier", "string"), ("days", "number")],
        [(["< 5"], ['"post"', "3"]), ([">= 5"], ['"freight"', "7"])],
    )
    assert decide(routing, variables={"weight": 2}).value == {"carrier": "post", "days": 3}


def test_first_hit_policy_takes_the_first_match_in_rule_order() -> None:
    first = table(
        "shipping",
        [("Country", "country")],
        [("cost", "number")],
        [(['"DE"'], ["4.9"]), (["-"], ["9.9"])],
        hit_policy="FIRST",
    )
    assert decide(first, variables={"country": "DE"}).value == 4.9
    assert decide(first, variables={"country": "FR"}).value == 9.9


def test_any_hit_policy_accepts_agreeing_rules_and_refuses_disagreeing_ones() -> None:
    agreeing = table(
        "eligible",
        [("Age", "age")],
        [("ok", "boolean")],
        [([">= 18"], ["true"]), ([">= 21"], ["true"]), (["< 18"], ["false"])],
        hit_policy="ANY",
    )
    assert decide(agreeing, variables={"age": 30}).value is True
    disagreeing = table(
        "eligible",
        [("Age", "age")],
        [("ok", "boolean")],
        [([">= 18"], ["true"]), ([">= 21"], ["false"])],
        hit_policy="ANY",
    )
    with pytest.raises(ExpressionError, match="ANY"):
        decide(disagreeing, variables={"age": 30})


def test_priority_hit_policy_ranks_by_the_output_values_order() -> None:
    priority = table(
        "alert",
        [("Stock", "stock")],
        [("level", "string")],
        [(["< 100"], ['"low"']), (["< 10"], ['"critical"']), (["< 50"], ['"medium"'])],
        hit_policy="PRIORITY",
        output_values={"level": '"critical","medium","low"'},
    )
    result = decide(priority, variables={"stock": 5})
    assert result.value == "critical"
    assert result.matched_rules == ["alert_Rule_2"]


def test_output_order_lists_all_matches_by_priority() -> None:
    ordered = table(
        "alert",
        [("Stock", "stock")],
        [("level", "string")],
        [(["< 100"], ['"low"']), (["< 10"], ['"critical"']), (["< 50"], ['"medium"'])],
        hit_policy="OUTPUT ORDER",
        output_values={"level": '"critical","medium","low"'},
    )
    assert decide(ordered, variables={"stock": 5}).value == ["critical", "medium", "low"]


COLLECT_RULES = [([">= 0"], ["1"]), ([">= 10"], ["5"]), ([">= 100"], ["20"])]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [(None, [1, 5, 20]), ("SUM", 26), ("MIN", 1), ("MAX", 20), ("COUNT", 3)],
)
def test_collect_lists_or_aggregates_all_matches(aggregation: str | None, expected: Any) -> None:
    collect = table(
        "points",
        [("Spend", "spend")],
        [("points", "number")],
        COLLECT_RULES,
        hit_policy="COLLECT",
        aggregation=aggregation,
    )
    result = decide(collect, variables={"spend": 150})
    assert result.value == expected
    assert result.matched_rules == ["points_Rule_1", "points_Rule_2", "points_Rule_3"]


def test_collect_without_matches_is_an_empty_list_or_zero_count() -> None:
    collect = table(
        "points", [("Spend", "spend")], [("points", "number")], COLLECT_RULES, hit_policy="COLLECT"
    )
    assert decide(collect, variables={"spend": -1}).value == []
    count = table(
        "points",
        [("Spend", "spend")],
        [("points", "number")],
        COLLECT_RULES,
        hit_policy="COLLECT",
        aggregation="COUNT",
    )
    assert decide(count, variables={"spend": -1}).value == 0


def test_rule_order_lists_every_match_with_all_outputs() -> None:
    rule_order = table(
        "perks",
        [("Tier", "tier")],
        [("perk", "string"), ("value", "number")],
        [(['"gold"'], ['"free shipping"', "5"]), (["-"], ['"newsletter"', "0"])],
        hit_policy="RULE ORDER",
    )
    assert decide(rule_order, variables={"tier": "gold"}).value == [
        {"perk": "free shipping", "value": 5},
        {"perk": "newsletter", "value": 0},
    ]


def test_output_entries_are_expressions_and_empty_ones_are_null() -> None:
    computed = table(
        "price",
        [("Qty", "qty")],
        [("total", "number"), ("note", "string")],
        [(["> 0"], ["qty * unit price", ""])],
    )
    result = decide(
        computed.replace("unit price", "unit_price"), variables={"qty": 3, "unit_price": 2.5}
    )
    assert result.value == {"total": 7.5, "note": None}


def test_output_type_ref_converts_obvious_mismatches() -> None:
    typed = table(
        "typed",
        [("X", "x")],
        [("count", "integer"), ("label", "string"), ("flag", "boolean")],
        [(["-"], ['"12"', "7", '"true"'])],
    )
    assert decide(typed, variables={"x": 1}).value == {"count": 12, "label": "7", "flag": True}


def test_input_entries_can_use_the_input_and_other_variables() -> None:
    limits = table(
        "credit",
        [("Amount", "amount")],
        [("approved", "boolean")],
        [(["<= limit"], ["true"]), (["? > limit"], ["false"])],
    )
    assert decide(limits, variables={"amount": 50, "limit": 100}).value is True
    assert decide(limits, variables={"amount": 150, "limit": 100}).value is False


def test_required_decisions_are_evaluated_first_and_visible_by_id() -> None:
    tier = table(
        "customerTier",
        [("Spend", "spend")],
        [("tier", "string")],
        [([">= 1000"], ['"gold"']), (["< 1000"], ['"silver"'])],
        name="Customer tier",
    )
    discount = table(
        "discount",
        [("Tier", "customerTier")],
        [("discount", "number")],
        [(['"gold"'], ["0.2"]), (['"silver"'], ["0.05"])],
        requires=("customerTier",),
    )
    result = decide(tier, discount, variables={"spend": 2000}, decision_id="discount")
    assert result.value == 0.2
    assert [(hits.decision_id, hits.rule_numbers) for hits in result.evaluated] == [
        ("customerTier", (1,)),
        ("discount", (1,)),
    ]
    assert result.evaluated[-1].rule_ids == tuple(result.matched_rules)


def test_camunda_7_drd_sees_the_required_output_name() -> None:
    tier = table(
        "customerTier",
        [("Spend", "spend")],
        [("tier", "string")],
        [([">= 1000"], ['"gold"']), (["< 1000"], ['"silver"'])],
    )
    discount = table(
        "discount",
        [("Tier", "tier")],
        [("discount", "number")],
        [(['"gold"'], ["0.2"]), (['"silver"'], ["0.05"])],
        requires=("customerTier",),
    )
    assert decide(tier, discount, variables={"spend": 10}, decision_id="discount").value == 0.05


def test_literal_expression_decision_gives_its_value() -> None:
    total = literal("orderTotal", "sum(for line in lines return line.qty * line.price)", "total")
    result = decide(total, variables={"lines": [{"qty": 2, "price": 3}, {"qty": 1, "price": 4}]})
    assert result.value == 10
    assert result.outputs == [{"total": 10}]


def test_literal_decision_can_require_a_table() -> None:
    tier = table(
        "customerTier",
        [("Spend", "spend")],
        [("tier", "string")],
        [([">= 1000"], ['"gold"']), (["< 1000"], ['"silver"'])],
    )
    greeting = literal(
        "greeting",
        '"Dear " + customerTier + " customer"',
        "text",
        "string",
        requires=("customerTier",),
    )
    assert (
        decide(tier, greeting, variables={"spend": 5000}, decision_id="greeting").value
        == "Dear gold customer"
    )


def test_missing_required_decision_is_reported_at_evaluation() -> None:
    orphan = Decision("orphan", None, None, ("elsewhere",))
    with pytest.raises(ExpressionError, match="required decision 'elsewhere' is not deployed"):
        EVALUATOR.evaluate(orphan, {}, {})


def test_failing_output_entry_names_the_rule() -> None:
    broken = table("broken", [("X", "x")], [("y", "number")], [(["-"], ['"abc"'])])
    with pytest.raises(ExpressionError, match="declared number") as raised:
        decide(broken, variables={"x": 1})
    assert raised.value.element_id == "broken_Rule_1"


CAMUNDA_7_FILE = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN11}" xmlns:camunda="http://camunda.org/schema/1.0/dmn"
    id="definitions_c7" name="C7" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="approval" name="Approval">
    <decisionTable id="decisionTable_1">
      <input id="input_1" label="Amount" camunda:inputVariable="amountIn">
        <inputExpression id="inputExpression_1" typeRef="double" expressionLanguage="juel">
          <text>${{order.amount}}</text>
        </inputExpression>
      </input>
      <output id="output_1" label="Approved" name="approved" typeRef="boolean" />
      <rule id="rule_small">
        <inputEntry id="entry_1" expressionLanguage="juel">
          <text>${{amountIn &lt; 1000}}</text>
        </inputEntry>
        <outputEntry id="entry_2"><text>true</text></outputEntry>
      </rule>
      <rule id="rule_big">
        <inputEntry id="entry_3"><text>&gt;= 1000</text></inputEntry>
        <outputEntry id="entry_4"><text>false</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def test_camunda_7_dmn_1_1_file_with_juel_and_input_variable_runs() -> None:
    [approval] = parse_dmn(parse(CAMUNDA_7_FILE), file="approval.dmn")
    assert EVALUATOR.evaluate(approval, {"order": {"amount": 500}}, {}).value is True
    result = EVALUATOR.evaluate(approval, {"order": {"amount": 5000}}, {})
    assert result.value is False
    assert result.matched_rules == ["rule_big"]
