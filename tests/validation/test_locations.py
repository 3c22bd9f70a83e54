"""Columns (and first lines) of findings, which editors and code-scanning UIs jump to."""

from __future__ import annotations

from retailflow.validation.locations import SourceColumns

SOURCE = b"""<definitions>
  <process id="p">
    <task id="one" name="One" />
    <task
        name="Two"
        id="two">
    </task>
  </process>
</definitions>
"""


def test_a_one_line_tag_is_found_at_its_angle_bracket() -> None:
    assert SourceColumns({"f": SOURCE}).locate("f", 3, "one") == (3, 5)


def test_a_tag_over_several_lines_points_at_its_first_line() -> None:
    # lxml reports the line where the start tag ends
    assert SourceColumns({"f": SOURCE}).locate("f", 6, "two") == (4, 5)


def test_without_the_id_nearby_the_first_non_blank_column_of_the_line_is_used() -> None:
    assert SourceColumns({"f": SOURCE}).locate("f", 8, None) == (8, 3)
    assert SourceColumns({"f": SOURCE}).locate("f", 2, "nowhere") == (2, 3)


def test_findings_without_a_file_or_line_have_no_column() -> None:
    columns = SourceColumns({"f": SOURCE})

    assert columns.locate(None, 3, "one") == (3, None)
    assert columns.locate("f", None, "one") == (None, None)
    assert columns.locate("f", 99, "one") == (99, None)
