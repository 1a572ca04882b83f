"""Event XML: `wevtutil qe /f:xml` (and `/f:RenderedXml`) exports, and the XML the Rust backend
renders for each record.

wevtutil writes a bare sequence of <Event> elements with no root element, so the export is fed to
a pull parser inside a wrapper element, one 64 KiB block at a time, and each element outside an
event, and each event, is dropped as soon as it is read: memory stays flat however long the
export is and whatever else it holds. A character the XML standard forbids (a control character,
or a reference to a lone surrogate, as a damaged export can hold) becomes U+FFFD rather than
ending the scan.
"""
from __future__ import annotations

import codecs
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO

from exops.sources.eventtally import EventLogError, Progress, ScanCancelled, ScanTally

BLOCK = 0x10000
_WRAPPER = "exops-events"
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
DATA_SECTIONS = ("EventData", "UserData")     # where data items live, in both readers
_UTC = timezone.utc
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_REFERENCE = re.compile(r"&#(?:x([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_CUT_REFERENCE = re.compile(r"&#?[0-9A-Za-z]{0,10}\Z")     # a reference a block boundary cut


def parse_time(text: str | None) -> datetime | None:
    """`2011-08-09T10:00:00.1234567Z` (any number of fraction digits) as an aware UTC datetime.

    Windows writes 7 or 9 fraction digits, the Rust backend 6 or 9: all are cut (not rounded) to
    microseconds so that every reader gives the same instant.
    """
    match = _TIME.search(text or "")
    if not match:
        return None
    *fields, fraction = match.groups()
    try:
        stamp = datetime(*map(int, fields), tzinfo=_UTC)
    except ValueError:
        return None
    return stamp + timedelta(microseconds=int((fraction or "0")[:6].ljust(6, "0")))


def event_fields(event: ET.Element) -> dict[str, Any] | None:
    """The fields ScanTally.add takes, from one <Event>; None when it has no usable EventID.

    Data items are the texts of every element inside EventData/UserData except <Binary>, in
    document order: Exchange 2010 writes unnamed <Data> items whose order is not documented, so
    callers search all of them rather than trusting a position.
    """
    system = _child(event, "System")
    event_id = _int(_text(_child(system, "EventID")))
    if event_id is None:
        return None
    data = [text for section in event if _local(section.tag) in DATA_SECTIONS
            for el in section.iter() if _local(el.tag) != "Binary" and (text := _own_text(el))]
    return {
        "event_id": event_id,
        "provider": _attr(_child(system, "Provider"), "Name"),
        "time": parse_time(_attr(_child(system, "TimeCreated"), "SystemTime")),
        "computer": _text(_child(system, "Computer")),
        "record_id": _int(_text(_child(system, "EventRecordID"))),
        "data": tuple(data),
        "message": _text(_child(_child(event, "RenderingInfo"), "Message")),
    }


def fields_from_string(xml: str) -> dict[str, Any] | None:
    """event_fields of one rendered record; None when the text is not well-formed XML."""
    try:
        return event_fields(ET.fromstring(xml))
    except ET.ParseError:
        return None


def scan(stream: BinaryIO, tally: ScanTally, cancel: threading.Event | None,
         progress: Progress | None) -> None:
    path = tally.source
    parser = ET.XMLPullParser(events=("start", "end"))
    parser.feed(f"<{_WRAPPER}>")
    open_elements: list[ET.Element] = []
    events = 0
    try:
        for text in _valid_blocks(_decoded_blocks(stream, path, cancel, progress)):
            parser.feed(text)
            events += _read_events(parser, open_elements, tally)
        parser.feed(f"</{_WRAPPER}>")
        parser.close()
        events += _read_events(parser, open_elements, tally)
    except ET.ParseError as exc:
        raise EventLogError(_parse_error(path, exc)) from None
    if not events:
        raise EventLogError(f"{path}: XML without <Event> elements; "
                            "expected a wevtutil export (wevtutil qe <log> /f:xml)")


def _decoded_blocks(stream: BinaryIO, path: str, cancel: threading.Event | None,
                    progress: Progress | None) -> Iterator[str]:
    """The export as text, 64 KiB at a time, its XML declaration blanked out: the wrapper
    element comes first, and a declaration anywhere but at the start is an error."""
    total = os.fstat(stream.fileno()).st_size
    decoder = None
    while True:
        if cancel is not None and cancel.is_set():
            raise ScanCancelled(path)
        block = stream.read(BLOCK)
        if decoder is None:
            decoder, block = _decoder(block)
            yield _DECLARATION.sub(lambda m: "\n" * m.group(0).count("\n"),
                                   decoder.decode(block))
        else:
            yield decoder.decode(block, final=not block)
        if not block:
            return
        if progress is not None:
            progress(stream.tell(), total)


def _valid_blocks(blocks: Iterator[str]) -> Iterator[str]:
    """The blocks with every character XML forbids replaced by U+FFFD, raw or as a character
    reference; a reference cut by the end of a block is completed from the next one."""
    held = ""
    for block in blocks:
        text = held + block
        cut = _CUT_REFERENCE.search(text)
        held, text = (text[cut.start():], text[:cut.start()]) if cut else ("", text)
        yield _REFERENCE.sub(_valid_reference, _FORBIDDEN.sub("\ufffd", text))
    yield _REFERENCE.sub(_valid_reference, _FORBIDDEN.sub("\ufffd", held))


def _valid_reference(match: re.Match) -> str:
    code = int(match[1], 16) if match[1] else int(match[2])
    allowed = (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
               or 0x10000 <= code <= 0x10FFFF)
    return match[0] if allowed else "&#xFFFD;"


def _read_events(parser: ET.XMLPullParser, open_elements: list[ET.Element],
                 tally: ScanTally) -> int:
    """Hand each complete outermost <Event> to the tally and drop it; returns how many."""
    events = 0
    for kind, element in parser.read_events():
        if kind == "start":
            open_elements.append(element)
            continue
        open_elements.pop()
        if any(_local(e.tag) == "Event" for e in open_elements):
            continue                                 # part of an event still being read
        if _local(element.tag) == "Event":
            _read_event(element, tally)
            events += 1
        if open_elements:                            # the wrapper itself ends last
            open_elements[-1].remove(element)
    return events


def _read_event(element: ET.Element, tally: ScanTally) -> None:
    fields = event_fields(element)
    if fields is None:
        tally.skip("event without a readable EventID")
        return
    if fields["event_id"] in tally.event_ids:
        if fields["time"] is None:
            tally.skip("free/busy event without a readable time")
            return
        if fields["record_id"] is None:
            fields["record_id"] = 0
        tally.add(**fields)
    tally.records_read += 1


def looks_like_xml(head: bytes) -> bool:
    """Whether a file starting with `head` starts with markup, in whatever encoding."""
    decoder, head = _decoder(head)
    return decoder.decode(head).lstrip().startswith("<")


def _decoder(head: bytes) -> tuple[codecs.IncrementalDecoder, bytes]:
    """The export's encoding from its BOM or declaration: PowerShell redirection writes UTF-16."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return codecs.getincrementaldecoder(encoding)("replace"), head[len(bom):]
    if head[1:2] == b"\x00":
        return codecs.getincrementaldecoder("utf-16-le")("replace"), head
    declared = _ENCODING.search(head[:200])
    encoding = declared.group(1).decode() if declared else "utf-8"
    try:
        return codecs.getincrementaldecoder(encoding)("replace"), head
    except LookupError:
        return codecs.getincrementaldecoder("utf-8")("replace"), head


def _parse_error(path: str, exc: ET.ParseError) -> str:
    line, column = exc.position
    if line == 1:
        column -= len(_WRAPPER) + 2
    reason = str(exc).split(":")[0]
    return f"{path}: malformed XML at line {line}, column {column + 1} ({reason})"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(parent: ET.Element | None, name: str) -> ET.Element | None:
    if parent is None:
        return None
    return next((c for c in parent if _local(c.tag) == name), None)


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _attr(element: ET.Element | None, name: str) -> str:
    return (element.get(name) or "").strip() if element is not None else ""


def _own_text(element: ET.Element) -> str:
    return "".join([element.text or "", *(c.tail or "" for c in element)]).strip()


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
