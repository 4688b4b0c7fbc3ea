"""Plain words for the planner's reason codes, translated.

The solver (``scheduler``) gives every request a stable reason code; the web pages, e-mails and
the API show these words instead of the solver's English. Parameters are stored with the round's
plan (``AllocationRound.plan["outcomes"]``) so the text can be rendered again in any language.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

import scheduler
from resources.models import UNIT_OF_KIND, ResourceKind

# Outcomes that can never change by waiting: the request is REFUSED, not waitlisted.
FINAL_CODES = frozenset(
    {"no_valid_training", "below_min_run", "no_feasible_start", "quota_exceeds_round"}
)


REASON_TEXTS = {
    "granted": _("Granted as requested: %(resource)s, %(start)s – %(end)s"),
    "moved": _(
        "Granted on %(resource)s, %(start)s – %(end)s: later than the earliest start you asked "
        "for, because the earlier time was given to other requests, closed, or reserved for "
        "changeover or maintenance."
    ),
    "promoted": _(
        "Granted from the waitlist after a cancellation: %(resource)s, %(start)s – %(end)s"
    ),
    "no_valid_training": _(
        "Refused: you hold no training for this resource that is valid for the whole booking "
        "anywhere in the requested window."
    ),
    "below_min_run": _("Refused: the run is shorter than the line's minimum run length."),
    "no_feasible_start": _(
        "Refused: no start in the requested window fits the opening hours, shifts, maintenance "
        "and existing bookings of the resource."
    ),
    "quota_exceeds_round": _(
        "Refused: this request alone (%(need)s %(unit)s) is more than your tenant's quota left "
        "for the round (%(quota)s %(unit)s)."
    ),
    "quota_exhausted": _(
        "Waitlisted: your tenant's quota left for the round (%(quota)s %(unit)s) is used by its "
        "other granted requests (%(used)s %(unit)s); this one needs %(need)s %(unit)s."
    ),
    "chain_unplaceable": _(
        "Waitlisted: this request is part of a chain whose steps could not all be placed within "
        "their windows and gaps; a chain is granted all together or not at all."
    ),
    "capacity_to_fairer_share": _(
        "Waitlisted: the time in your window went to tenants further below their fair share. "
        "Your tenant received %(share)s of its entitlement in “%(class)s”; the round's "
        "fairness floor is %(floor)s."
    ),
    "capacity_full": _(
        "Waitlisted: the resource was fully booked in your window, by tenants with at least the "
        "same share of their entitlement or by your tenant's other requests. Your tenant "
        "received %(share)s of its entitlement in “%(class)s”."
    ),
    "left_out_by_solver": _(
        "Waitlisted: there was room for this request, but the planner reached its time limit "
        "before placing it."
    ),
    "not_planned": _("Waitlisted: the planner gave no outcome for this request."),
}


def _fmt_dt(value) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _fmt_percent(value) -> str:
    return f"{float(value) * 100:.0f}%"


def _fmt_hours(value) -> str:
    return formats.number_format(round(float(value), 1), decimal_pos=1, use_l10n=True)


def _class_label(kind) -> str:
    try:
        return str(ResourceKind(kind).label)
    except ValueError:
        return str(kind or "")


def reason_text(code: str, params: dict | None = None) -> str:
    """The reason in plain words in the active language; unknown codes are returned as is."""
    template = REASON_TEXTS.get(code)
    if template is None:
        return code
    params = dict(params or {})
    values = {
        "resource": params.get("resource", ""),
        "start": _fmt_dt(params["start"]) if params.get("start") else "",
        "end": _fmt_dt(params["end"]) if params.get("end") else "",
        "share": _fmt_percent(params.get("share", 0)),
        "floor": _fmt_percent(params.get("floor", 0)),
        "quota": _fmt_hours(params.get("quota", 0)),
        "used": _fmt_hours(params.get("used", 0)),
        "need": _fmt_hours(params.get("need", 0)),
        "unit": UNIT_OF_KIND.get(params.get("resource_class"), _("hours")),
        # Shares differ by resource class; a list of reasons names the class each one is in.
        "class": _class_label(params.get("resource_class")),
    }
    return str(template) % values


def reason_text_stored(code: str, params: dict | None = None) -> str:
    """The text kept on the booking row: in the site's default language, cut to the column."""
    with override(settings.LANGUAGE_CODE):
        return reason_text(code, params)[:400]


def reason_params(booking) -> dict:
    """The parameters of a booking's reason, from the booking and its round's figures.

    Reads ``booking.round.figures`` (small), never the whole plan: list pages may use
    ``select_related("round", "tenant", "resource", "pool").defer("round__plan")``.
    """
    code = booking.reason_code
    kind = (
        booking.resource.kind
        if booking.resource_id
        else (booking.pool.kind if booking.pool_id else "")
    )
    params: dict = {"resource_class": str(kind)}
    if code in ("granted", "moved", "promoted"):
        params.update(
            resource=booking.resource.name if booking.resource_id else "",
            start=booking.start,
            end=booking.end,
        )
        return params
    figures = (booking.round.figures if booking.round_id else None) or {}
    key = f"{booking.tenant.slug}/{kind}"
    if code in ("capacity_to_fairer_share", "capacity_full"):
        params.update(
            share=(figures.get("share") or {}).get(key, 0.0), floor=figures.get("floor", 0)
        )
    elif code in ("quota_exhausted", "quota_exceeds_round"):
        need = booking.units * (booking.duration_minutes or 0) / 60
        params.update(
            quota=(figures.get("quotas") or {}).get(key, 0),
            used=(figures.get("granted_by") or {}).get(key, 0),
            need=need,
        )
    return params


def round_reason_for(booking) -> str:
    """A booking's planner reason in the active language; registered with
    ``booking.bookings.reasons`` for every code of ``REASON_TEXTS`` (``RoundsConfig.ready``)."""
    return reason_text(booking.reason_code, reason_params(booking))


def contract_paragraphs() -> list[str]:
    """The solver's fairness contract as a title and numbered paragraphs, each on one line.

    The template translates each paragraph (``{% translate %}``); ``booking/contract_i18n.py``
    lists the same strings so ``makemessages`` finds them.
    """
    paragraphs: list[str] = []
    for line in scheduler.FAIRNESS_CONTRACT.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        if not paragraphs or re.match(r"^\d+\.\s", line):
            paragraphs.append(line)
        else:
            paragraphs[-1] += " " + line
    return paragraphs


def fairness_contract() -> dict:
    paragraphs = contract_paragraphs()
    return {"title": paragraphs[0] if paragraphs else "", "items": paragraphs[1:]}


MEASURE_LABELS = {
    "hours": _("in hours: granted hours over the entitlement (paragraph 2)"),
    "dominant_share": _(
        "by dominant share: the largest of GPU-hours, CPU-hours and memory-hours over the "
        "class's capacity in each, over the weight share (paragraph 11)"
    ),
}


def fairness_measures(figures: dict | None = None) -> list[dict]:
    """How each resource class measures shares: as the round's plan was made (its figures'
    ``measures``), else as the next solve will (``PARK_GPU_FAIRNESS`` for GPU nodes, hours
    elsewhere). One row per class: ``label`` and ``measure`` in the active language."""
    stated = (figures or {}).get("measures") or {}
    rows = []
    for kind in ResourceKind:
        default = settings.PARK_GPU_FAIRNESS if kind == ResourceKind.GPU_NODE else "hours"
        measure = stated.get(str(kind), default)
        rows.append(
            {
                "label": kind.label,
                "code": measure,
                "measure": MEASURE_LABELS.get(measure, measure),
            }
        )
    return rows
