"""Writing a user's reminder preferences."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from booking.errors import ParkError
from booking.notices.models import (
    LEAD_MINUTES_MAX,
    LEAD_MINUTES_MIN,
    Delivery,
    Notice,
    NoticePreference,
    NoticeStatus,
)


def notice_preference_check(*, lead_minutes: int, delivery: str, digest_hour: int) -> None:
    """Raise ``ParkError`` naming the field for a lead time out of range, an unknown delivery
    or an hour that is not of a day."""
    if not LEAD_MINUTES_MIN <= lead_minutes <= LEAD_MINUTES_MAX:
        raise ParkError(
            "lead_out_of_range",
            _("Enter a number of minutes from %(min)s to %(max)s."),
            field="lead_minutes",
            params={"min": LEAD_MINUTES_MIN, "max": LEAD_MINUTES_MAX},
        )
    if delivery not in Delivery.values:
        raise ParkError(
            "delivery_invalid", _("Choose one e-mail each or a daily digest."), field="delivery"
        )
    if not 0 <= digest_hour <= 23:
        raise ParkError(
            "digest_hour_out_of_range", _("Enter an hour from 0 to 23."), field="digest_hour"
        )


@transaction.atomic
def notice_preference_set(
    *,
    user,
    booking_start: bool,
    lead_minutes: int,
    training_expiry: bool,
    quota: bool,
    round_cutoff: bool,
    approval_due: bool,
    delivery: str,
    digest_hour: int,
) -> NoticePreference:
    """Store ``user``'s preferences (checked first: nothing is written on a refusal). Leaving
    the digest sends the notices it was holding one by one, at the next pass."""
    notice_preference_check(lead_minutes=lead_minutes, delivery=delivery, digest_hour=digest_hour)
    preference, _created = NoticePreference.objects.select_for_update().get_or_create(user=user)
    preference.booking_start = booking_start
    preference.lead_minutes = lead_minutes
    preference.training_expiry = training_expiry
    preference.quota = quota
    preference.round_cutoff = round_cutoff
    preference.approval_due = approval_due
    preference.delivery = delivery
    preference.digest_hour = digest_hour
    preference.full_clean()
    preference.save()
    other = Delivery.DIGEST if delivery == Delivery.IMMEDIATE else Delivery.IMMEDIATE
    Notice.objects.filter(user=user, status=NoticeStatus.PENDING, delivery=other).update(
        delivery=delivery
    )
    return preference
