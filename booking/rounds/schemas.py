"""API schemas of allocation rounds."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from booking.api_common import PageIn

RoundStatusName = Literal["open", "closed", "solving", "solved", "published"]


class RoundOut(Schema):
    id: int
    name: str
    period_start: dt.datetime
    period_end: dt.datetime
    cutoff: dt.datetime
    status: RoundStatusName
    published_at: dt.datetime | None


class RoundFilterIn(PageIn):
    status: list[RoundStatusName] | None = Field(None, description="Any of these statuses.")


class RoundOutcomeFilterIn(PageIn):
    whole_tenant: bool = Field(
        False, description="Managers: every request of the tenant, not only yours."
    )
