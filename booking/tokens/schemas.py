"""API schemas of tokens and the caller."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema


class TokenOut(Schema):
    id: int
    name: str
    tenant: str = Field(alias="tenant.slug")
    scopes: list[str]
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class WhoAmIOut(Schema):
    username: str
    tenant: str
    tenant_name: str
    scopes: list[str]
    auth: Literal["token", "session"]
    token: TokenOut | None
