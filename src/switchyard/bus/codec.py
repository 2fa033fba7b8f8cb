"""The bus's own encoding of events: a JSON object naming the event type and holding its
fields as they are in the dataclass, nested values included.

It is deliberately not the reference's wire shape (server/wire.py): replicas exchange the
core's events, not what a Dexto client reads, so the two can change independently, and a
decoded event is equal to the one sent (the tests check this for every event type).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any, Callable

from switchyard.events import (EVENT_TYPES, ErrorEvent, Event, MessageDequeuedEvent, ResponseEvent, RoutedAgent,
                               RoutingDecisionEvent, UpstreamFailure)
from switchyard.llm.base import Usage


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _ranked(items: list[dict[str, Any]]) -> tuple[RoutedAgent, ...]:
    return tuple(RoutedAgent(i["agent_id"], i["score"], i["layers"], tuple(i["matched"])) for i in items)


# Fields whose values are not plain JSON, by event type: how to rebuild them.
_REBUILD: dict[type[Event], dict[str, Callable[[Any], Any]]] = {
    ResponseEvent: {"usage": lambda d: Usage(**d)},
    ErrorEvent: {"upstream": lambda d: None if d is None else UpstreamFailure(**d)},
    RoutingDecisionEvent: {"ranked": _ranked},
    MessageDequeuedEvent: {"message_ids": tuple},
}


def dumps(event: Event) -> str:
    fields = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return json.dumps({"event": event.name, "fields": fields})


def loads(text: str) -> Event:
    raw = json.loads(text)
    cls = EVENT_TYPES[raw["event"]]
    fields = dict(raw["fields"])
    for name, rebuild in _REBUILD.get(cls, {}).items():
        fields[name] = rebuild(fields[name])
    return cls(**fields)


def loads_or_skip(text: Any) -> Event | None:
    """`loads`, or None (logged) for an event this replica cannot read: e.g. a type a newer
    replica knows and this one does not. A reader skips it and reads on."""
    try:
        return loads(text)
    except (KeyError, TypeError, ValueError) as exc:
        logging.getLogger("switchyard.bus").warning("skipped an event this replica cannot read: %r", exc)
        return None
