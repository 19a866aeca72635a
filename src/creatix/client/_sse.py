"""A server-sent events parser (the WHATWG ``text/event-stream`` rules), fed line by line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from creatix.client._types import JobEvent


@dataclass
class EventParser:
    """Feed it the stream's lines (without their line ending); it answers each event as its
    blank line ends it. Comments (``: keep-alive``) and unknown fields are skipped; ``id``
    is remembered as ``last_id`` for a reconnect's ``Last-Event-ID``."""

    last_id: str | None = None
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> JobEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> JobEvent | None:
        if self._id is not None:
            self.last_id = self._id
        event_id, name, data = self._id, self._event or "message", "\n".join(self._data)
        had_data = bool(self._data)
        self._event, self._data, self._id = "", [], None
        if not had_data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            payload = {"text": data}
        if not isinstance(payload, dict):
            payload = {"value": payload}
        number = int(event_id) if event_id is not None and event_id.isdigit() else None
        return JobEvent(id=number, event=name, data=payload)


def parse_events(text: str) -> list[JobEvent]:
    """Every event of a whole stream's text (for tests and small bodies)."""
    parser = EventParser()
    events = []
    for line in text.splitlines():
        event = parser.feed(line)
        if event is not None:
            events.append(event)
    return events
