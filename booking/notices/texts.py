"""A notice in words, in the active language (the reader's): a subject line and a sentence.

Moments and days use the active language's short formats (``booking.formats``): English
follows Hong Kong's day-first conventions, the Chinese languages theirs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from booking.formats import day_text, when_text
from booking.notices.models import Notice, NoticeKind
from booking.tenancy.models import Period
from resources.models import UNIT_OF_KIND, ResourceKind


def _when(value: str) -> str:
    return when_text(dt.datetime.fromisoformat(value))


def _day(value: str) -> str:
    return day_text(dt.date.fromisoformat(value))


def _hours(value: str) -> str:
    return f"{Decimal(value):.2f}".rstrip("0").rstrip(".")


def _booking_start(p: dict, today: dt.date) -> tuple[str, str]:
    words = {"title": p["title"], "resource": p["resource"], "start": _when(p["start"])}
    words["end"] = _when(p["end"])
    return (
        _("Reminder: %(title)s starts at %(start)s") % words,
        _("Your booking “%(title)s” on %(resource)s starts at %(start)s and ends at %(end)s.")
        % words,
    )


def _training_expiry(p: dict, today: dt.date) -> tuple[str, str]:
    expires = dt.date.fromisoformat(p["expires_on"])
    days = (expires - today).days
    words = {"training": p["training"], "day": _day(p["expires_on"]), "days": days}
    return (
        _("Your training %(training)s expires on %(day)s") % words,
        ngettext(
            "Your training “%(training)s” expires on %(day)s, in %(days)s day. Renew it with "
            "the park before then to keep booking the instruments that need it.",
            "Your training “%(training)s” expires on %(day)s, in %(days)s days. Renew it with "
            "the park before then to keep booking the instruments that need it.",
            days,
        )
        % words,
    )


def _quota(p: dict, today: dt.date) -> tuple[str, str]:
    kind = ResourceKind(p["resource_class"])
    words = {
        "tenant": p["tenant"],
        "percent": p["percent"],
        "class": kind.label,
        "period": Period(p["period"]).label,
        "used": _hours(p["used_hours"]),
        "quota": _hours(p["quota_hours"]),
        "unit": UNIT_OF_KIND[kind],
        "end": _when(p["period_end"]),
    }
    return (
        _("%(tenant)s: %(percent)s%% of the %(class)s quota used") % words,
        _(
            "%(tenant)s has used %(percent)s%% of its %(class)s quota for this period "
            "(%(period)s): %(used)s of %(quota)s %(unit)s, until %(end)s."
        )
        % words,
    )


def _round_cutoff(p: dict, today: dt.date) -> tuple[str, str]:
    words = {
        "round": p["round"],
        "cutoff": _when(p["cutoff"]),
        "start": _when(p["period_start"]),
        "end": _when(p["period_end"]),
    }
    return (
        _("Round %(round)s closes at %(cutoff)s") % words,
        _(
            "The allocation round “%(round)s” (%(start)s – %(end)s) takes requests until "
            "%(cutoff)s. You have not asked for time in it yet."
        )
        % words,
    )


def _approval_due(p: dict, today: dt.date) -> tuple[str, str]:
    words = {
        "title": p["title"],
        "resource": p["resource"],
        "tenant": p["tenant"],
        "requester": p["requester"],
        "start": _when(p["start"]),
    }
    return (
        _("Waiting for your approval: %(title)s on %(resource)s") % words,
        _(
            "“%(title)s” on %(resource)s, asked for by %(requester)s (%(tenant)s), starts at "
            "%(start)s. If nobody approves or denies it by then, it is refused and its time "
            "is freed. Decide on the Approvals page."
        )
        % words,
    )


_TEXTS = {
    NoticeKind.BOOKING_START: _booking_start,
    NoticeKind.TRAINING_EXPIRY: _training_expiry,
    NoticeKind.QUOTA: _quota,
    NoticeKind.ROUND_CUTOFF: _round_cutoff,
    NoticeKind.APPROVAL_DUE: _approval_due,
}


def notice_text(notice: Notice, *, today: dt.date) -> tuple[str, str]:
    """(subject, sentence) of ``notice`` in the active language; ``today`` is the park's day
    the reader reads it on (a training's "in N days" counts from it)."""
    return _TEXTS[notice.kind](notice.params, today)
