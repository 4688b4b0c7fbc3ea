"""Follow-up of check-in, check-out and no-shows, run in tasks: freed time offered to the
waitlist, no-show e-mails in each person's language, and the language they read the park in."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from booking.bookings.models import Booking, BookingStatus
from booking.mail import send_park_mail
from booking.rounds.tasks import waitlist_replan_task
from booking.tenancy.models import Membership
from booking.usage.models import UserLanguage
from booking.usage.services import booked_hours, usage_policy


def usage_offer_freed_time(*, booking_ids: list[int]) -> int:
    """Offer the time freed by no-shows or early check-outs to the waitlist, through the rounds
    service: one re-plan per round (a re-plan sees all the round's free time at once), under the
    round's lease like every re-plan. Returns how many requests were promoted."""
    promoted = 0
    seen_rounds: set[int] = set()
    freed = Booking.objects.filter(pk__in=booking_ids, round__isnull=False).order_by("pk")
    for booking in freed:
        if booking.round_id in seen_rounds:
            continue
        seen_rounds.add(booking.round_id)
        promoted += max(0, waitlist_replan_task.call_local(booking.round_id, booking.pk))
    return promoted


def remember_language(*, user, language: str | None) -> None:
    """Keep the language a user reads the park in, for e-mails sent without a request."""
    codes = {code for code, _name in settings.LANGUAGES}
    if not user.is_authenticated or language not in codes:
        return
    UserLanguage.objects.update_or_create(user=user, defaults={"language": language})


def usage_notify_no_shows(*, booking_ids: list[int]) -> int:
    """E-mail the owner (and, by policy, the tenant's managers) of each no-show, each person in
    their own language. Returns the number of messages sent."""
    policy = usage_policy()
    sent = 0
    bookings = list(
        Booking.objects.filter(pk__in=booking_ids, status=BookingStatus.NO_SHOW).select_related(
            "user", "resource", "tenant"
        )
    )
    managers: dict[int, list] = {}
    if policy.notify_manager:
        rows = Membership.objects.filter(
            tenant_id__in={b.tenant_id for b in bookings}, role=Membership.Role.MANAGER
        ).select_related("user")
        for m in rows:
            managers.setdefault(m.tenant_id, []).append(m.user)
    user_ids = {b.user_id for b in bookings} | {u.pk for us in managers.values() for u in us}
    languages = dict(
        UserLanguage.objects.filter(user_id__in=user_ids).values_list("user_id", "language")
    )
    for booking in bookings:
        people = [booking.user]
        people += [u for u in managers.get(booking.tenant_id, []) if u.pk != booking.user_id]
        for person in people:
            language = languages.get(person.pk, settings.LANGUAGE_CODE)
            with translation.override(language):
                sent += send_park_mail(
                    to=[person.email],
                    template="usage_no_show",
                    context={
                        "booking": booking,
                        "person": person,
                        "owner": person.pk == booking.user_id,
                        "charged": policy.no_show_charged,
                        "hours": booked_hours(booking),
                    },
                    language=language,
                )
    return sent
