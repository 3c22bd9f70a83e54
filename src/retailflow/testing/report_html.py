"""The coverage report as one self-contained HTML file: a summary table, then each process's
diagram with the flow nodes and sequence flows the tests passed in green, and each decision's
rules with how often they hit. No scripts, no external files: it opens from a CI artifact."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from retailflow.diagram.model import shown_name
from retailflow.testing.coverage import CoverageCollector, DecisionCoverage, ProcessCoverage, Ratio
from retailflow.testing.coverage_overlay import COVERED, COVERED_FILL, MISSED, draw_process

_STYLE = f"""
body {{ font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #111827; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; margin-top: 36px; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; }}
th, td {{ border: 1px solid #d1d5db; padding: 4px 10px; text-align: left; font-size: 13px; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.bar {{ display: inline-block; width: 80px; height: 8px; background: #e5e7eb; margin-left: 6px; }}
.bar span {{ display: block; height: 8px; background: {COVERED}; }}
.legend span {{ display: inline-block; padding: 2px 8px; margin-right: 8px; font-size: 12px; }}
.covered-key {{ background: {COVERED_FILL}; border: 2px solid {COVERED}; }}
.missed-key {{ background: #fff; border: 1px solid {MISSED}; }}
.diagram-box {{ overflow-x: auto; border: 1px solid #e5e7eb; padding: 8px; }}
svg.diagram {{ max-width: 100%; height: auto; }}
.missed-list {{ font-size: 13px; color: #374151; }}
tr.hit td {{ background: {COVERED_FILL}; }}
"""


def render_html(collector: CoverageCollector) -> str:
    """The report as an HTML document."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [_process_section(process) for process in collector.processes]
    sections.extend(_decision_section(decision) for decision in collector.decisions)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>retailflow BPMN coverage</title><style>{_STYLE}</style></head><body>"
        f"<h1>retailflow BPMN coverage: {collector.total.percent:.1f}%</h1>"
        f"<p>Flow nodes and sequence flows together, over every deployed process. "
        f"Generated {generated}.</p>"
        f'<p class="legend"><span class="covered-key">passed by the tests</span>'
        f'<span class="missed-key">not passed</span></p>'
        f"{_summary(collector)}{''.join(sections)}</body></html>"
    )


def write_html(collector: CoverageCollector, path: Path) -> None:
    """Write the report to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(collector), encoding="utf-8")


def _summary(collector: CoverageCollector) -> str:
    rows = "".join(
        f'<tr><td><a href="#{_anchor(p)}">{escape(p.model.process_id)}</a></td>'
        f"<td>{escape(shown_name(p.model.file))}</td><td class=num>{p.instances}</td>"
        f"{_cell(p.nodes)}{_cell(p.flows)}{_cell(p.total)}</tr>"
        for p in collector.processes
    )
    rows += f"<tr><th colspan=5>total</th>{_cell(collector.total)}</tr>"
    return (
        "<table><tr><th>process</th><th>file</th><th>instances</th><th>flow nodes</th>"
        f"<th>sequence flows</th><th>total</th></tr>{rows}</table>"
    )


def _cell(ratio: Ratio) -> str:
    return (
        f"<td class=num>{ratio.covered}/{ratio.total} {ratio.percent:.1f}%"
        f'<span class="bar"><span style="width:{ratio.percent:.0f}%"></span></span></td>'
    )


def _process_section(coverage: ProcessCoverage) -> str:
    model = coverage.model
    missed = [model.label(node) for node in model.nodes if node not in coverage.reached]
    missed += [flow for flow in model.flows if flow not in coverage.taken]
    svg = draw_process(coverage) or "<p>This file has no diagram (BPMN DI) to draw.</p>"
    title = f"{model.process_id}" + (f" ({model.name})" if model.name else "")
    return (
        f'<h2 id="{_anchor(coverage)}">{escape(title)}</h2>'
        f"<p>{escape(shown_name(model.file))}: flow nodes {_plain(coverage.nodes)}, "
        f"sequence flows {_plain(coverage.flows)}, {coverage.instances} instance(s) started</p>"
        f'<div class="diagram-box">{svg}</div>'
        + (
            f'<p class="missed-list">Not passed: {escape(", ".join(missed))}</p>'
            if missed
            else "<p>Every element passed.</p>"
        )
    )


def _decision_section(coverage: DecisionCoverage) -> str:
    decision = coverage.decision
    title = decision.id + (f" ({decision.name})" if decision.name else "")
    rows = "".join(
        f'<tr class="{"hit" if coverage.hits[rule_id] else ""}"><td class=num>{number}</td>'
        f"<td>{escape(rule_id)}</td><td class=num>{coverage.hits[rule_id]}</td></tr>"
        for number, rule_id in enumerate(coverage.rule_ids, 1)
    )
    return (
        f"<h2>decision {escape(title)}</h2><p>{escape(shown_name(coverage.file))}: rules hit "
        f"{_plain(coverage.rules)} over {coverage.evaluations} evaluation(s)</p>"
        f"<table><tr><th>rule</th><th>id</th><th>hits</th></tr>{rows}</table>"
    )


def _plain(ratio: Ratio) -> str:
    return f"{ratio.covered}/{ratio.total} ({ratio.percent:.1f}%)"


def _anchor(coverage: ProcessCoverage) -> str:
    return escape(f"process-{coverage.model.process_id}-{coverage.model.content_hash[:8]}")
