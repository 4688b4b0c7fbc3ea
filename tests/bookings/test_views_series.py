"""Recurring bookings on the pages: the booking form's repeat fields, the series on a booking's
page, cancelling an occurrence and all following ones, other tenants answered 404."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import translation

from booking.bookings.models import Booking, BookingSeries, BookingStatus
from resources.services import maintenance_add
from tests.bookings.test_views_booking import at, local_input


def _form(start, tenant, **extra):
    return {
        "tenant": str(tenant.pk),
        "title": "Weekly imaging",
        "start": local_input(start),
        "end": local_input(start + dt.timedelta(hours=1)),
        **extra,
    }


def _login(park, user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_booking_form_books_a_daily_series_and_the_page_shows_it(park):
    alice = _login(park, park.alice)
    start = at(2, 10)
    maintenance_add(
        resource=park.confocal,
        start=start + dt.timedelta(days=1),
        end=start + dt.timedelta(days=1, hours=2),
        reason="laser service",
    )
    response = alice.post(
        reverse("booking_submit", args=["confocal-1"]),
        _form(start, park.acme, repeat="daily", repeat_count="4", skip_conflicts="on"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    series = BookingSeries.objects.get()
    assert series.occurrences.count() == 3 and len(series.skipped) == 1
    page = alice.get(response.url).content.decode()
    assert "Recurring series" in page and "3 occurrences" in page and "1 skipped" in page
    assert "Cancel this and all following occurrences" in page


def test_without_skip_the_page_lists_the_refused_occurrence(park):
    alice = _login(park, park.alice)
    start = at(2, 10)
    maintenance_add(
        resource=park.confocal,
        start=start + dt.timedelta(days=2),
        end=start + dt.timedelta(days=2, hours=2),
        reason="laser service",
    )
    response = alice.post(
        reverse("booking_submit", args=["confocal-1"]),
        _form(start, park.acme, repeat="daily", repeat_count="3"),
    )
    assert response.status_code == 400
    assert 'data-code="maintenance"' in response.content.decode()
    assert not Booking.objects.exists()


def test_cancel_following_from_the_page_and_not_across_tenants(park):
    alice = _login(park, park.alice)
    start = at(2, 10)
    alice.post(
        reverse("booking_submit", args=["confocal-1"]),
        _form(
            start,
            park.acme,
            repeat="weekly",
            repeat_until=(start + dt.timedelta(days=14)).date().isoformat(),
        ),
    )
    ids = list(Booking.objects.order_by("start").values_list("pk", flat=True))
    assert len(ids) == 3
    charlie = _login(park, park.charlie)
    assert charlie.post(reverse("booking_cancel_following", args=[ids[1]])).status_code == 404
    assert charlie.get(reverse("booking_detail", args=[ids[1]])).status_code == 404
    response = alice.post(reverse("booking_cancel_following", args=[ids[1]]))
    assert response.status_code == 302
    statuses = list(Booking.objects.order_by("start").values_list("status", flat=True))
    assert statuses == [BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.CANCELLED]


def test_series_page_in_traditional_chinese(park):
    alice = _login(park, park.alice)
    start = at(2, 10)
    alice.post(
        reverse("booking_submit", args=["confocal-1"]),
        _form(start, park.acme, repeat="daily", repeat_count="2"),
    )
    booking = Booking.objects.order_by("start").first()
    with translation.override("zh-hant"):
        url = reverse("booking_detail", args=[booking.pk])
    page = alice.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "Recurring series" not in page and "Cancel this and all following" not in page
    assert "重複系列" in page and "共 2 場" in page and "取消此場及之後所有場次" in page


def test_change_the_times_from_the_booking_page(park):
    alice = _login(park, park.alice)
    start = at(2, 10)
    alice.post(reverse("booking_submit", args=["confocal-1"]), _form(start, park.acme))
    booking = Booking.objects.get()
    page = alice.get(reverse("booking_detail", args=[booking.pk])).content.decode()
    assert "Change the times" in page
    new = start + dt.timedelta(hours=2)
    response = alice.post(
        reverse("booking_change", args=[booking.pk]),
        {"start": local_input(new), "end": local_input(new + dt.timedelta(hours=2))},
    )
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.start == new and booking.end == new + dt.timedelta(hours=2)
    # A refused change says why and changes nothing.
    maintenance_add(resource=park.confocal, start=new, end=new + dt.timedelta(hours=1))
    response = alice.post(
        reverse("booking_change", args=[booking.pk]),
        {"start": local_input(start), "end": local_input(new + dt.timedelta(hours=1))},
        follow=True,
    )
    assert "Maintenance" in response.content.decode()
    booking.refresh_from_db()
    assert booking.start == new
    charlie = _login(park, park.charlie)
    assert charlie.post(reverse("booking_change", args=[booking.pk]), {}).status_code == 404
