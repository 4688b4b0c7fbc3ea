"""The booking and round-request forms: a project select (the tenant's open projects, its
default preselected) and the estimated cost (htmx), priced as the statement later charges it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.billing import services
from booking.billing.models import BookingProject, Project
from booking.bookings.models import Booking, BookingStatus
from booking.usage.models import BookingUsage, UsageSource
from tests.billing.conftest import card
from tests.rounds.round_fixtures import week_round  # noqa: F401

HX = {"HTTP_HX_REQUEST": "true"}


def weekday_at(hour: int, minute: int = 0, *, after: int = 1) -> dt.datetime:
    """A local time on the first weekday ``after`` days from today or later."""
    day = timezone.localdate() + dt.timedelta(days=after)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def local_input(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def shown_total(body: str) -> Decimal | None:
    found = re.search(r'data-total="([0-9.]+)"', body)
    return Decimal(found.group(1)) if found else None


@pytest.fixture
def alice(client, park):
    client.force_login(park.alice)
    return client


@pytest.fixture
def grant(park):
    return services.project_create(
        tenant=park.acme, name="Imaging grant", principal_investigator="Dr Chan"
    )


def booking_data(park, start, end, **extra):
    return {
        "tenant": park.acme.pk,
        "title": "Imaging run",
        "start": local_input(start),
        "end": local_input(end),
        **extra,
    }


def test_the_booking_form_offers_the_tenants_open_projects_with_the_default_chosen(
    alice, park, grant
):
    archived = services.project_create(
        tenant=park.acme, name="Old grant", principal_investigator="Dr Lee"
    )
    archived.active = False
    archived.save()
    services.project_create(tenant=park.globex, name="Globex secret", principal_investigator="X")
    page = alice.get(reverse("resource", args=["confocal-1"])).content.decode()
    default = services.default_project(park.acme)
    assert 'name="project"' in page and "Imaging grant" in page
    assert re.search(rf'<option value="{default.pk}" selected>General</option>', page)
    assert "Old grant" not in page and "Globex secret" not in page
    assert 'hx-post="/resources/confocal-1/estimate"' in page


def test_the_estimate_shown_equals_the_statement_charge_of_the_same_booking(alice, park, grant):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    # A weekday 17:00–19:30: 1 h peak, 1.5 h off-peak.
    start, end = weekday_at(17), weekday_at(19, 30)
    data = booking_data(park, start, end, project=grant.pk)
    body = alice.post(reverse("billing:booking_estimate", args=["confocal-1"]), data, **HX)
    body = body.content.decode()
    assert shown_total(body) == Decimal("190.00")
    assert "Peak hours" in body and "Off-peak hours" in body
    assert "1 × HKD 100.00" in body and "1.5 × HKD 60.00" in body

    response = alice.post(reverse("booking_submit", args=["confocal-1"]), data)
    assert response.status_code == 302, response.content.decode()
    booking = Booking.objects.get(user=park.alice)
    assert BookingProject.objects.get(booking=booking).project == grant
    # Used as booked; the usage sweep closes it.
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.COMPLETED)
    BookingUsage.objects.create(
        booking=booking,
        source=UsageSource.CHECK_IN,
        used_hours=Decimal("2.5"),
        charged_hours=Decimal(0),
        closed_at=end,
    )
    statement = services.statement_refresh(
        statement=services.statement_for(tenant=park.acme, month=start.date())
    )
    assert statement.total == shown_total(body)
    assert {line.project_id for line in statement.lines.all()} == {grant.pk}


def test_the_estimate_adds_the_minimum_charge_and_shows_rmb_at_the_stated_rate(
    alice, park, settings
):
    settings.BILLING_RMB_PER_HKD = "0.92"
    card(
        peak_price=Decimal("100.00"),
        off_peak_price=Decimal("60.00"),
        minimum_charge=Decimal("80.00"),
    )
    start = weekday_at(10)
    data = booking_data(park, start, start + dt.timedelta(minutes=30))
    body = alice.post(reverse("billing:booking_estimate", args=["confocal-1"]), data, **HX)
    body = body.content.decode()
    assert shown_total(body) == Decimal("80.00")
    assert "Top-up to the minimum charge" in body and "HKD 30.00" in body
    assert "RMB 73.60" in body and "0.92" in body


def test_the_estimate_says_when_no_rate_applies(alice, park):
    data = booking_data(park, weekday_at(10), weekday_at(11))
    body = alice.post(reverse("billing:booking_estimate", args=["confocal-1"]), data, **HX)
    body = body.content.decode()
    assert shown_total(body) is None and "No rate applies" in body


def test_a_project_of_another_tenant_is_refused_and_nothing_is_stored(alice, park):
    card()
    theirs = services.project_create(
        tenant=park.globex, name="Globex secret", principal_investigator="X"
    )
    data = booking_data(park, weekday_at(10), weekday_at(11), project=theirs.pk)
    response = alice.post(reverse("booking_submit", args=["confocal-1"]), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-field="project"' in body and "Charge to project" in body
    assert "Choose one of your tenant&#x27;s open projects." in body
    assert not Booking.objects.exists() and not BookingProject.objects.exists()
    body = alice.post(reverse("billing:booking_estimate", args=["confocal-1"]), data, **HX)
    body = body.content.decode()
    assert shown_total(body) is None and "open projects" in body


def test_a_member_of_two_tenants_cannot_charge_one_tenants_booking_to_the_other(park, client):
    from booking.tenancy.models import Membership

    Membership.objects.create(user=park.alice, tenant=park.globex, role="member")
    card()
    theirs = services.project_create(
        tenant=park.globex, name="Globex work", principal_investigator="X"
    )
    client.force_login(park.alice)
    page = client.get(reverse("resource", args=["confocal-1"])).content.decode()
    assert "Globex Materials: Globex work" in page and "Acme Robotics: General" in page
    data = booking_data(park, weekday_at(10), weekday_at(11), project=theirs.pk)
    response = client.post(reverse("booking_submit", args=["confocal-1"]), data)
    assert response.status_code == 400 and 'data-field="project"' in response.content.decode()
    assert not Booking.objects.exists()


def test_another_tenants_member_gets_no_estimate_for_alices_tenant(client, park, grant):
    card()
    client.force_login(park.charlie)
    data = booking_data(park, weekday_at(10), weekday_at(11), project=grant.pk)
    response = client.post(reverse("billing:booking_estimate", args=["confocal-1"]), data, **HX)
    assert response.status_code == 200 and shown_total(response.content.decode()) is None
    assert client.post(reverse("billing:booking_estimate", args=["nope"]), data).status_code == 404


def test_the_round_request_form_estimates_the_requested_duration_and_charges_the_project(
    alice,
    park,
    grant,
    week_round,  # noqa: F811
):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    start = timezone.localtime(week_round.period_start) + dt.timedelta(hours=10)
    data = {
        "tenant": park.acme.pk,
        "title": "Powder scan",
        "earliest_start": local_input(start),
        "latest_end": local_input(start + dt.timedelta(hours=8)),
        "duration_hours": "2",
        "project": grant.pk,
    }
    page = alice.get(reverse("resource", args=["xrd"])).content.decode()
    assert 'name="project"' in page and "Imaging grant" in page
    body = alice.post(reverse("billing:booking_estimate", args=["xrd"]), data, **HX)
    body = body.content.decode()
    peak = 2 * 100 if start.weekday() < 5 else 2 * 60
    assert shown_total(body) == Decimal(peak).quantize(Decimal("0.01"))
    assert "the final charge follows the slot the planner gives" in body
    response = alice.post(reverse("booking_submit", args=["xrd"]), data)
    assert response.status_code == 302, response.content.decode()
    request = Booking.objects.get(user=park.alice, resource=park.xrd)
    assert BookingProject.objects.get(booking=request).project == grant


def test_a_booking_without_a_project_choice_is_charged_to_the_default(alice, park):
    card()
    data = booking_data(park, weekday_at(10), weekday_at(11))
    assert alice.post(reverse("booking_submit", args=["confocal-1"]), data).status_code == 302
    booking = Booking.objects.get(user=park.alice)
    link = BookingProject.objects.filter(booking=booking).first()
    assert link is None or link.project == Project.objects.get(tenant=park.acme, is_default=True)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-hant", ("預計費用", "繁忙時段時數", "記賬項目")),
        ("zh-hans", ("预计费用", "高峰时段时数", "记账项目")),
    ],
)
def test_the_project_field_and_the_estimate_speak_chinese(client, park, language, words):
    card()
    client.force_login(park.alice)
    client.cookies["django_language"] = language
    data = booking_data(park, weekday_at(10), weekday_at(11))
    body = client.post(reverse("billing:booking_estimate", args=["confocal-1"]), data, **HX)
    body = body.content.decode()
    assert words[0] in body and words[1] in body
    page = client.get(reverse("resource", args=["confocal-1"])).content.decode()
    assert words[2] in page
