"""SLA policies (E2): which target applies to a waiting customer, and when to warn and when it is breached.

A policy names channels and/or tags (empty: any) and two targets: the first response (the conversation was
never answered) and the next response (answered before, the customer wrote again). The first policy that
matches wins; the team's SLA minutes are the default policy. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.notifications import InvalidSettings

WARN_AT = 0.8  # of the target: the warning
MAX_POLICIES = 20
MAX_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    first_response_minutes: int
    next_response_minutes: int
    channel_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "channel_ids": list(self.channel_ids), "tags": list(self.tags),
                "first_response_minutes": self.first_response_minutes,
                "next_response_minutes": self.next_response_minutes}


def _minutes(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        raise InvalidSettings(f"{what} must be 1..{MAX_MINUTES} minutes")
    return value


def _names(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 50 or not all(isinstance(v, str) and 0 < len(v) <= 100
                                                                 for v in value):
        raise InvalidSettings(f"{what} is a list of up to 50 names")
    return tuple(dict.fromkeys(value))


def parse_policies(value: object) -> list[Policy]:
    if not isinstance(value, list) or len(value) > MAX_POLICIES:
        raise InvalidSettings(f"sla_policies is a list of up to {MAX_POLICIES} policies")
    out: list[Policy] = []
    for index, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise InvalidSettings("each SLA policy is an object")
        pid = raw.get("id") or f"p{index + 1}"
        if not isinstance(pid, str) or not re.fullmatch(r"[a-z0-9_-]{1,32}", pid):
            raise InvalidSettings("an SLA policy id is 1-32 of a-z 0-9 _ -")
        name = raw.get("name") or pid
        if not isinstance(name, str) or len(name) > 80:
            raise InvalidSettings("an SLA policy name is up to 80 characters")
        first = _minutes(raw.get("first_response_minutes"), f"{name}: first_response_minutes")
        following = _minutes(raw.get("next_response_minutes", first), f"{name}: next_response_minutes")
        policy = Policy(pid, name, first, following, _names(raw.get("channel_ids"), "channel_ids"),
                        _names(raw.get("tags"), "tags"))
        if any(p.id == pid for p in out):
            raise InvalidSettings(f"two SLA policies have the id {pid}")
        out.append(policy)
    return out


def pick(policies: list[Policy], default_minutes: int, channel_id: str, tags: list[str]) -> Policy:
    for p in policies:
        if (not p.channel_ids or channel_id in p.channel_ids) and (not p.tags or set(p.tags) & set(tags)):
            return p
    return Policy("default", "default", default_minutes, default_minutes)


@dataclass(frozen=True)
class Deadline:
    policy_id: str
    target: str  # first_response | next_response
    minutes: int
    warn_at: datetime
    breach_at: datetime


def deadline(policy: Policy, waiting_since: datetime, answered_before: bool) -> Deadline:
    target = "next_response" if answered_before else "first_response"
    minutes = policy.next_response_minutes if answered_before else policy.first_response_minutes
    span = timedelta(minutes=minutes)
    return Deadline(policy.id, target, minutes, waiting_since + span * WARN_AT, waiting_since + span)
