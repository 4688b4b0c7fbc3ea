"""Member pages: catalogue, resource week, booking form with live validation, my bookings,
cancel, the tenant's bookings, cross-tenant 404s and constant query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import booking_create_instant
from resources.services import maintenance_add

HX = {"HTTP_HX_REQUEST": "true"}


def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def local_input(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def book(
    park, user=None, tenant=None, resource=None, start=None, hours=1, title="Imaging run", units=1
):
    start = start or at(2, 10)
    return booking_create_instant(
        user=user or park.alice,
        tenant=tenant or park.acme,
        resource=resource or park.confocal,
        start=start,
        end=start + dt.timedelta(hours=hours),
        title=title,
        units=units,
    )


@pytest.fixture
def alice(client, park):
    client.force_login(park.alice)
    return client


@pytest.fixture
def charlie(client, park):
    client.force_login(park.charlie)
    return client


# ---- catalogue ----------------------------------------------------------------------------


def test_catalogue_lists_resources_and_filters_by_kind(alice, park):
    page = alice.get(reverse("catalogue")).content.decode()
    assert "Confocal 1" in page and "A100 node gpu01" in page
    page = alice.get(reverse("catalogue"), {"kind": "gpu"}).content.decode()
    assert "A100 node gpu01" in page and "Confocal 1" not in page


def test_catalogue_filters_by_gpu_model_training_and_free_window(alice, park):
    assert "Confocal" not in alice.get(reverse("catalogue"), {"gpu_model": "A100"}).content.decode()
    park.xrd.required_training = park.microscopy
    park.xrd.save()
    from resources.models import Training

    other = Training.objects.create(code="xrd", name="XRD safety")
    park.xrd.required_training = other
    park.xrd.save()
    page = alice.get(reverse("catalogue"), {"trained_only": "on"}).content.decode()
    assert "Confocal 1" in page and ">XRD<" not in page
    book(park)
    page = alice.get(
        reverse("catalogue"),
        {"free_from": local_input(at(2, 10)), "free_to": local_input(at(2, 11))},
    ).content.decode()
    assert "Confocal 1" not in page and "A100 node gpu01" in page


def test_catalogue_answers_htmx_with_the_results_partial(alice, park):
    response = alice.get(reverse("catalogue"), {"kind": "gpu"}, HTTP_HX_TARGET="results", **HX)
    body = response.content.decode()
    assert 'id="results"' in body and "<html" not in body


def test_catalogue_refuses_a_half_window_with_a_message(alice, park):
    response = alice.get(reverse("catalogue"), {"free_from": local_input(at(2, 10))})
    assert response.status_code == 200
    assert "Give both ends of the window." in response.content.decode()


# ---- resource week ------------------------------------------------------------------------


def test_week_shows_own_titles_and_others_as_anonymous_busy(alice, park):
    book(park, title="Alice secret run")
    book(park, user=park.charlie, tenant=park.globex, start=at(2, 14), title="Globex secret")
    page = alice.get(
        reverse("resource", args=["confocal-1"]), {"week": at(2, 0).date().isoformat()}
    ).content.decode()
    assert "Alice secret run" in page
    assert "Globex secret" not in page and "charlie" not in page.lower() and "Globex" not in page
    assert "blk-busy" in page and "blk-closed" in page


def test_week_shows_maintenance(alice, park):
    maintenance_add(resource=park.confocal, start=at(3, 9), end=at(3, 12), reason="laser")
    page = alice.get(
        reverse("resource", args=["confocal-1"]), {"week": at(3, 0).date().isoformat()}
    ).content.decode()
    assert "blk-maintenance" in page


def test_next_week_via_htmx_returns_only_the_week_partial(alice, park):
    response = alice.get(
        reverse("resource", args=["confocal-1"]),
        {"week": "2030-01-07"},
        HTTP_HX_TARGET="week",
        **HX,
    )
    body = response.content.decode()
    assert 'id="week"' in body and "<html" not in body and "booking-form" not in body
    assert "week=2030-01-14" in body and "week=2029-12-31" in body


def test_a_garbled_week_parameter_falls_back_to_this_week(alice, park):
    assert (
        alice.get(reverse("resource", args=["confocal-1"]), {"week": "garbage"}).status_code == 200
    )


def test_unknown_resource_answers_404(alice, park):
    assert alice.get(reverse("resource", args=["no-such-thing"])).status_code == 404


def test_week_page_query_count_does_not_grow_with_bookings(alice, park, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("resource", args=["gpu01"])
    # A day at least two days ahead whose next day is in the same week (Monday to Friday), so
    # that all the bookings below are on the page whatever day the test runs.
    d = next(d for d in range(2, 9) if at(d, 0).weekday() <= 4)
    week = at(d, 0).date().isoformat()
    book(park, resource=park.gpu, start=at(d, 8))
    # The first page a tenant sees sets up its default project once (billing); not counted.
    assert alice.get(url, {"week": week}).status_code == 200
    with CaptureQueriesContext(connection) as one:
        assert alice.get(url, {"week": week}).status_code == 200
    for i in range(1, 40):
        book(
            park,
            resource=park.gpu,
            start=at(d, 0) + dt.timedelta(hours=i % 20, days=i // 20),
            user=park.charlie,
            tenant=park.globex,
            title=f"globex-{i}",
        )
    with django_assert_num_queries(len(one)):
        page = alice.get(url, {"week": week}).content.decode()
    assert page.count("blk-busy") >= 39 and "globex-1" not in page


# ---- booking form ---------------------------------------------------------------------------


def form_data(park, start, end, title="Imaging run", **extra):
    data = {
        "tenant": park.acme.pk,
        "title": title,
        "start": local_input(start),
        "end": local_input(end),
    }
    data.update(extra)
    return data


def test_live_validation_names_the_broken_rule(alice, park):
    response = alice.post(
        reverse("booking_validate", args=["confocal-1"]),
        form_data(park, at(2, 19), at(2, 21), title=""),
        **HX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="outside_opening_hours"' in body and "Opening hours" in body
    assert 'data-code="invalid"' not in body  # a missing title is not shouted about while typing


def test_live_validation_confirms_a_good_slot(alice, park):
    body = alice.post(
        reverse("booking_validate", args=["confocal-1"]),
        form_data(park, at(2, 10), at(2, 11)),
        **HX,
    ).content.decode()
    assert "passes every rule" in body


def test_live_validation_reports_end_before_start(alice, park):
    body = alice.post(
        reverse("booking_validate", args=["confocal-1"]),
        form_data(park, at(2, 11), at(2, 10)),
        **HX,
    ).content.decode()
    assert 'data-code="end_before_start"' in body


def test_live_validation_reports_garbled_times_without_500(alice, park):
    data = form_data(park, at(2, 10), at(2, 11))
    data["start"] = "not a time"
    response = alice.post(reverse("booking_validate", args=["confocal-1"]), data, **HX)
    assert response.status_code == 200 and 'data-field="start"' in response.content.decode()


def test_submitting_a_free_slot_confirms_it_at_once(alice, park):
    response = alice.post(
        reverse("booking_submit", args=["confocal-1"]), form_data(park, at(2, 10), at(2, 11))
    )
    booking = Booking.objects.get()
    assert booking.status == BookingStatus.CONFIRMED and booking.user == park.alice
    assert response.status_code == 302 and response.url == reverse(
        "booking_detail", args=[booking.pk]
    )


def test_submitting_via_htmx_redirects_the_client(alice, park):
    response = alice.post(
        reverse("booking_submit", args=["confocal-1"]), form_data(park, at(2, 10), at(2, 11)), **HX
    )
    assert response.status_code == 200 and response["HX-Redirect"]


@pytest.mark.parametrize(
    "start, end, code",
    [
        (lambda: at(2, 11), lambda: at(2, 10), "end_before_start"),
        (lambda: at(-2, 10), lambda: at(-2, 11), "in_past"),
        (lambda: at(2, 19), lambda: at(2, 21), "outside_opening_hours"),
        (lambda: at(50, 10), lambda: at(50, 11), "beyond_horizon"),
    ],
)
def test_submitting_a_bad_slot_refuses_with_the_rule_and_writes_nothing(
    alice, park, start, end, code
):
    response = alice.post(
        reverse("booking_submit", args=["confocal-1"]), form_data(park, start(), end())
    )
    assert response.status_code == 400
    assert f'data-code="{code}"' in response.content.decode()
    assert Booking.objects.count() == 0


def test_submitting_without_training_is_refused(client, park):
    client.force_login(park.bob)
    response = client.post(
        reverse("booking_submit", args=["confocal-1"]), form_data(park, at(2, 10), at(2, 11))
    )
    assert (
        response.status_code == 403 and 'data-code="training_required"' in response.content.decode()
    )
    assert Booking.objects.count() == 0


def test_booking_for_another_tenant_by_tampered_id_is_refused(alice, park):
    data = form_data(park, at(2, 10), at(2, 11))
    data["tenant"] = park.globex.pk
    response = alice.post(reverse("booking_submit", args=["confocal-1"]), data)
    assert response.status_code == 400 and Booking.objects.count() == 0


def test_a_taken_slot_is_refused_with_slot_taken(charlie, park):
    book(park)
    data = form_data(park, at(2, 10), at(2, 11))
    data["tenant"] = park.globex.pk
    response = charlie.post(reverse("booking_submit", args=["confocal-1"]), data)
    assert response.status_code == 409 and 'data-code="slot_taken"' in response.content.decode()


def test_booking_submission_query_count_is_constant(alice, park):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("booking_submit", args=["gpu01"])
    # The tenant's default project is set up once, on its first booking (billing); not counted.
    alice.post(url, form_data(park, at(2, 6), at(2, 7), units=1))
    with CaptureQueriesContext(connection) as first:
        alice.post(url, form_data(park, at(2, 8), at(2, 9), units=1))
    for i in range(20):
        book(
            park,
            resource=park.gpu,
            user=park.charlie,
            tenant=park.globex,
            start=at(3, 0) + dt.timedelta(hours=i),
        )
    with CaptureQueriesContext(connection) as later:
        alice.post(url, form_data(park, at(2, 10), at(2, 11), units=1))
    assert Booking.objects.filter(user=park.alice).count() == 3
    assert len(first) == len(later)


def test_round_resource_form_shows_round_request_fields(alice, park):
    page = alice.get(reverse("resource", args=["xrd"])).content.decode()
    assert 'name="earliest_start"' in page and 'name="duration_hours"' in page
    assert "allocation round" in page.lower()


# ---- my bookings, details, cancel ----------------------------------------------------------


def test_my_bookings_lists_own_bookings_only(alice, park):
    book(park, title="Mine")
    book(park, user=park.charlie, tenant=park.globex, start=at(2, 14), title="Theirs")
    page = alice.get(reverse("my_bookings")).content.decode()
    assert "Mine" in page and "Theirs" not in page


def test_booking_detail_of_another_tenant_answers_404(charlie, park):
    booking = book(park)
    assert charlie.get(reverse("booking_detail", args=[booking.pk])).status_code == 404
    assert charlie.get(reverse("booking_detail", args=["999999"])).status_code == 404
    assert charlie.get(reverse("booking_detail", args=["1 OR 1=1"])).status_code == 404


@pytest.mark.parametrize("spelled", [" {pk}", "+{pk}", "{pk}\n", "{pk}.0", "0", str(2**70)])
def test_a_booking_id_is_plain_digits_or_404(park, spelled):
    from booking.bookings.selectors import booking_get
    from booking.errors import NotFound

    booking = book(park)
    assert booking_get(user=park.alice, pk=str(booking.pk)) == booking
    with pytest.raises(NotFound):  # int() alone would take " 5", "+5" and "5\n"
        booking_get(user=park.alice, pk=spelled.format(pk=booking.pk))


def test_cancel_of_another_tenants_booking_answers_404_and_changes_nothing(charlie, park):
    booking = book(park)
    assert charlie.post(reverse("booking_cancel", args=[booking.pk])).status_code == 404
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"


def test_owner_cancels_from_my_bookings_via_htmx(alice, park):
    booking = book(park)
    response = alice.post(reverse("booking_cancel", args=[booking.pk]), **HX)
    assert response.status_code == 200 and "status-cancelled" in response.content.decode()
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"


def test_cancel_after_start_is_refused_with_a_message(alice, park):
    booking = book(park)
    Booking.objects.filter(pk=booking.pk).update(start=timezone.now() - dt.timedelta(minutes=5))
    response = alice.post(reverse("booking_cancel", args=[booking.pk]), follow=True)
    assert "can no longer be cancelled" in response.content.decode()
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"


def test_round_outcome_and_reason_are_shown(alice, park):
    booking = Booking.objects.create(
        tenant=park.acme,
        user=park.alice,
        resource=park.xrd,
        title="Powder scan",
        earliest_start=at(3, 8),
        latest_end=at(3, 18),
        duration_minutes=120,
        status=BookingStatus.REFUSED,
        reason_text="Over the tenant's fair share in this round.",
    )
    page = alice.get(reverse("my_bookings")).content.decode()
    assert "Over the tenant&#x27;s fair share in this round." in page
    assert alice.get(reverse("booking_detail", args=[booking.pk])).status_code == 200


def test_manager_sees_tenant_bookings_member_and_other_tenant_get_404(client, park):
    book(park, title="Alice run")
    client.force_login(park.bob)
    page = client.get(reverse("tenant_bookings", args=["acme"])).content.decode()
    assert "Alice run" in page
    client.force_login(park.alice)
    assert client.get(reverse("tenant_bookings", args=["acme"])).status_code == 404
    client.force_login(park.charlie)
    assert client.get(reverse("tenant_bookings", args=["acme"])).status_code == 404


def test_manager_may_see_a_members_booking_detail(client, park):
    booking = book(park)
    client.force_login(park.bob)
    assert client.get(reverse("booking_detail", args=[booking.pk])).status_code == 200


def test_pages_need_sign_in(client, park):
    for url in [
        reverse("catalogue"),
        reverse("my_bookings"),
        reverse("resource", args=["gpu01"]),
        reverse("calendar_feed_settings"),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


# ---- home: quota bars -------------------------------------------------------------------------


def test_home_shows_quota_use_as_bars(alice, park):
    book(park, resource=park.gpu, units=2, start=at(1, 10), hours=2)
    page = alice.get(reverse("home")).content.decode()
    assert 'role="progressbar"' in page and "GPU node" in page


@pytest.mark.parametrize(
    "page", ["home", "catalogue", "my_bookings", "tenant_bookings", "booking_detail"]
)
def test_page_query_count_does_not_grow_with_bookings(client, park, page):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(park.bob)
    first = book(park, user=park.bob, resource=park.gpu, start=at(1, 9))
    url = {
        "home": reverse("home"),
        "catalogue": reverse("catalogue") + "?kind=gpu",
        "my_bookings": reverse("my_bookings"),
        "tenant_bookings": reverse("tenant_bookings", args=["acme"]),
        "booking_detail": reverse("booking_detail", args=[first.pk]),
    }[page]
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for i in range(1, 30):
        book(
            park,
            user=park.bob if i % 2 else park.alice,
            resource=park.gpu,
            start=at(1, 9) + dt.timedelta(hours=i),
            title=f"run {i}",
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]


def test_catalogue_free_window_leaves_out_resources_closed_then(alice, park):
    page = alice.get(
        reverse("catalogue"),
        {"free_from": local_input(at(2, 21)), "free_to": local_input(at(2, 22))},
    ).content.decode()
    # The confocal and the XRD close at 20:00; the GPU node and the line run round the clock.
    assert "Confocal 1" not in page and ">XRD<" not in page
    assert "A100 node gpu01" in page and "Epitaxy line" in page


def test_overlapping_gpu_bookings_sit_side_by_side_in_the_week(alice, park):
    from booking.bookings.calendar import resource_week

    book(park, resource=park.gpu, start=at(2, 10), hours=3, units=1)
    book(
        park,
        resource=park.gpu,
        start=at(2, 11),
        hours=3,
        units=2,
        user=park.charlie,
        tenant=park.globex,
    )
    week = resource_week(user=park.alice, resource=park.gpu, week_start=at(2, 0).date())
    day = next(d for d in week.days if d.date == at(2, 0).date())
    blocks = sorted((b for b in day.blocks if b.kind in ("own", "busy")), key=lambda b: b.left)
    assert [(b.kind, b.left, b.width) for b in blocks] == [("own", 0.0, 50.0), ("busy", 50.0, 50.0)]
    assert blocks[1].title == "" and blocks[1].booking_id is None
