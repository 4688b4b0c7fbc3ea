from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from booking.api_common import Id, Slug, StrictIn, When


class ProjectTotalOut(Schema):
    project_id: int
    project: str
    funding_code: str
    total_hkd: str


class StatementLineOut(Schema):
    id: int
    project_id: int
    kind: str
    description: str
    band: str
    quantity: str
    unit_price_hkd: str
    amount_hkd: str
    reason: str
    created_by: str | None
    corrects_statement_id: int | None


class StatementOut(Schema):
    id: int
    tenant: str
    month: str
    status: str
    total_hkd: str
    total_rmb: str | None
    rmb_per_hkd: str | None
    closed_at: dt.datetime | None


class StatementDetailOut(StatementOut):
    projects: list[ProjectTotalOut]
    lines: list[StatementLineOut]


class StatementPageOut(Schema):
    items: list[StatementOut]
    count: int


class EstimateOut(Schema):
    resource: str
    start: dt.datetime
    end: dt.datetime
    units: int
    cost_hkd: str | None
    priced: bool
    project_id: int | None = Field(
        None, description="The project the booking would be charged to (the tenant's default)."
    )
    cost_rmb: str | None = Field(None, description="The cost in RMB at the stated rate.")
    rmb_per_hkd: str | None = Field(None, description="The RMB rate, when configured.")


class EstimateIn(StrictIn):
    resource: Slug = Field(description="The resource's slug.")
    start: When
    end: When
    units: int = Field(1, ge=1, le=64, description="GPUs or units booked.")
    project: Id | None = Field(
        None, description="The tenant's project to charge (default: the tenant's default)."
    )
