"""Schemas of the usage API."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from booking.api_common import Day, StrictIn
from booking.bookings.schemas import BookingStatusName


class CheckInOut(Schema):
    id: int
    status: BookingStatusName
    start: dt.datetime
    end: dt.datetime
    checked_in_at: dt.datetime | None = None
    checked_out_at: dt.datetime | None = None
    booked_end: dt.datetime | None = Field(
        None, description="The end as booked, when an early check-out shortened the booking."
    )
    used_hours: float | None = Field(None, description="Capacity-hours used (GPU-hours on GPUs).")


class TenantUsagePeriodIn(StrictIn):
    start: Day = Field(description="First day of the period (park's local time).")
    end: Day = Field(description="Day after the period's last day.")


class TenantUsageClassOut(Schema):
    resource_class: str
    booked_hours: float
    used_hours: float
    no_show_hours: float
    bookings: int
    no_shows: int


class TenantUsageOut(Schema):
    tenant: str
    start: dt.date
    end: dt.date
    classes: list[TenantUsageClassOut]
