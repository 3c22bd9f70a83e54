"""The coverage table printed at the end of a pytest run: one row per process (flow nodes,
sequence flows, both together), one per decision (rules hit), and the total."""

from __future__ import annotations

from collections.abc import Sequence

from retailflow.diagram.model import shown_name
from retailflow.testing.coverage import CoverageCollector, Ratio


def table_lines(collector: CoverageCollector) -> list[str]:
    """The table as text lines, widths fitted to the names."""
    if not collector.processes:
        return ["no process was deployed through the rf_engine fixture: nothing to count"]
    rows = [("process", "file", "instances", "flow nodes", "seq. flows", "total")]
    for process in collector.processes:
        model = process.model
        rows.append(
            (
                model.process_id,
                shown_name(model.file),
                str(process.instances),
                _ratio(process.nodes),
                _ratio(process.flows),
                f"{process.total.percent:.1f}%",
            )
        )
    rows.append(("TOTAL", "", "", "", "", f"{collector.total.percent:.1f}%"))
    lines = _aligned(rows)
    if collector.decisions:
        lines.append("")
        decision_rows = [("decision", "file", "evaluations", "rules hit")]
        decision_rows.extend(
            (d.decision.id, shown_name(d.file), str(d.evaluations), _ratio(d.rules))
            for d in collector.decisions
        )
        lines.extend(_aligned(decision_rows))
    return lines


def _ratio(ratio: Ratio) -> str:
    return f"{ratio.covered}/{ratio.total} {ratio.percent:5.1f}%"


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
