"""API schemas of quotas and their use."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class QuotaUseOut(Schema):
    resource_class: str
    period: str
    period_start: dt.datetime
    period_end: dt.datetime
    quota_hours: float
    used_hours: float
    left_hours: float
    percent: int


class UsageOut(Schema):
    tenant: str
    quotas: list[QuotaUseOut]
