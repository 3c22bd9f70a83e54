"""Hardened parsing: hostile files are refused with a finding, quickly and without side effects."""

from __future__ import annotations

import pytest
from bpmn_diagrams import bpmn_file, linear_process, service_task

from retailflow.bpmn import parse_document
from retailflow.model import DeploymentError, Severity


def refusal(content: bytes, **limits: int) -> tuple[str, int | None, str]:
    with pytest.raises(DeploymentError) as raised:
        parse_document(content, file="hostile.bpmn", **limits)
    [finding] = raised.value.findings
    assert finding.severity is Severity.ERROR
    assert finding.file == "hostile.bpmn"
    assert finding.hint
    return finding.rule, finding.line, finding.message


def test_a_modeler_file_parses_with_source_lines() -> None:
    tree = parse_document(bpmn_file(linear_process(service_task())), file="order.bpmn")

    task = tree.getroot().find(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}serviceTask")
    assert task is not None
    assert task.get("id") == "task"
    assert task.sourceline == 8


def test_comments_are_kept_because_analysts_annotate_files() -> None:
    tree = parse_document(b"<a><!-- keep me --></a>", file="a.bpmn")

    assert "keep me" in tree.getroot()[0].text


def test_xxe_reading_a_local_file_is_refused() -> None:
    content = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<x>&e;</x>'
    )

    rule, line, message = refusal(content)

    assert (rule, line) == ("xml-unsafe", 2)
    assert "root:" not in message


def test_billion_laughs_is_refused_at_once() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1 if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    content = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><lolz>&lol9;</lolz>'.encode()

    rule, _, _ = refusal(content)

    assert rule == "xml-unsafe"


def test_billion_laughs_in_utf16_is_refused_too() -> None:
    entities = '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    text = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [{entities}]><x>&b;</x>'

    rule, _, _ = refusal(text.encode("utf-16"))

    assert rule == "xml-unsafe"


def test_a_doctype_after_a_byte_order_mark_is_refused() -> None:
    content = b'\xef\xbb\xbf<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "e">]>\n<x>&e;</x>'

    assert refusal(content)[:2] == ("xml-unsafe", 2)


def test_an_external_dtd_is_refused_without_fetching_it() -> None:
    content = (
        b'<?xml version="1.0"?>\n<!-- a comment first -->\n'
        b'<!DOCTYPE x SYSTEM "http://attacker.example/x.dtd">\n<x/>'
    )

    assert refusal(content)[:2] == ("xml-unsafe", 3)


def test_doctype_text_inside_a_script_is_not_a_doctype() -> None:
    content = b"<x><script><![CDATA[html = '<!DOCTYPE html>']]></script></x>"

    assert parse_document(content, file="a.bpmn").getroot().tag == "x"


def test_nesting_over_the_depth_limit_is_refused() -> None:
    content = b"<a>\n" + b"<a>" * 200 + b"</a>" * 200 + b"</a>"

    assert refusal(content)[:2] == ("xml-too-deep", 2)


def test_nesting_at_the_depth_limit_parses() -> None:
    content = b"<a>" * 200 + b"</a>" * 200

    assert parse_document(content, file="a.bpmn").getroot().tag == "a"


def test_absurd_nesting_is_refused_without_building_it() -> None:
    content = b"<a>" * 100_000 + b"</a>" * 100_000

    assert refusal(content)[0] == "xml-too-deep"


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    content = b"<a>" + b" " * (10 * 1024 * 1024) + b"</a>"

    rule, _, message = refusal(content)

    assert rule == "xml-too-large"
    assert "10,485,760" in message


def test_the_limits_can_be_tightened() -> None:
    assert refusal(b"<a><b/></a>", max_bytes=5)[0] == "xml-too-large"
    assert refusal(b"<a><b/></a>", max_depth=1)[0] == "xml-too-deep"


def test_malformed_xml_reports_line_and_column() -> None:
    content = b'<?xml version="1.0"?>\n<a>\n  <b>\n</a>'

    rule, line, message = refusal(content)

    assert (rule, line) == ("xml-malformed", 4)
    assert "column 5" in message


@pytest.mark.parametrize("content", [b"", b"not xml", b"\xff\xfe\x00", b"<a>&undefined;</a>"])
def test_anything_else_that_is_not_xml_is_malformed(content: bytes) -> None:
    assert refusal(content)[0] == "xml-malformed"
