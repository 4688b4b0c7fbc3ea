"""Every page of the park, with the data that fills it, for the layout and accessibility tests."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.test import Client
from django.utils import timezone


def at(days: int, hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def fill_park(park) -> dict:
    """Bookings, a job, a round with a request and a token: no page is empty."""
    from booking.bookings.services import booking_create_instant
    from booking.compute.models import ComputeJob, JobState
    from booking.rounds.requests import round_request_create
    from booking.rounds.services import round_create

    booking = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 12),
        title="Live-cell imaging of a long sample name that should wrap",
    )
    booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 13),
        end=at(2, 15),
        title="Organoid time-lapse",
    )
    job = ComputeJob.objects.create(
        tenant=park.acme,
        user=park.alice,
        name="fine-tune-llm-on-a-long-dataset-name",
        script="#!/bin/bash\npython train.py --epochs 3\n",
        partition="gpu",
        gpus=2,
        time_limit_minutes=120,
        state=JobState.RUNNING,
        slurm_job_id=8101,
        submitted_at=timezone.now(),
        started_at=timezone.now(),
    )
    day = at(4, 0)
    rnd = round_create(
        name="XRD week",
        period_start=day,
        period_end=day + dt.timedelta(days=1),
        cutoff=day - dt.timedelta(hours=2),
        actor=park.olga,
    )
    round_request_create(
        user=park.alice,
        tenant=park.acme,
        resource=park.xrd,
        earliest_start=at(4, 10),
        latest_end=at(4, 14),
        duration_minutes=240,
        title="Powder scan",
    )
    return {"booking": booking, "job": job, "round": rnd}


def pages_of(park, data) -> list[tuple[str, str | None]]:
    """(path, who) for every page; who is the username that sees it (None: signed out)."""
    booking, job, rnd = data["booking"], data["job"], data["round"]
    return [
        ("/accounts/login/", None),
        ("/", "alice"),
        ("/resources/", "alice"),
        (f"/resources/{park.confocal.slug}/", "alice"),
        (f"/resources/{park.line.slug}/", "alice"),
        (f"/resources/{park.gpu.slug}/", "alice"),
        ("/bookings/", "alice"),
        (f"/bookings/{booking.pk}/", "alice"),
        ("/jobs/", "alice"),
        (f"/jobs/{job.pk}/", "alice"),
        ("/calendar/", "alice"),
        ("/account/tokens/", "alice"),
        ("/", "bob"),
        (f"/tenants/{park.acme.slug}/bookings/", "bob"),
        (f"/tenants/{park.acme.slug}/jobs/", "bob"),
        ("/rounds/", "olga"),
        (f"/rounds/{rnd.pk}/", "olga"),
        ("/rounds/new/", "olga"),
        # Usage: check-in on the booking page (above), the kiosk, the PIN page, the reports.
        (f"/kiosk/{park.confocal.slug}/", None),
        (f"/kiosk/{park.confocal.slug}/", "alice"),
        ("/account/kiosk-pin/", "alice"),
        ("/reports/", "olga"),
        (f"/tenants/{park.acme.slug}/statements/", "bob"),
    ]


def session_cookie(username: str, base: str) -> dict:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base}


def visit(page, base: str, path: str, who: str | None, lang: str, sessions: dict) -> None:
    page.context.clear_cookies()
    cookies = [{"name": "django_language", "value": lang, "url": base}]
    if who:
        if who not in sessions:
            sessions[who] = session_cookie(who, base)
        cookies.append(sessions[who])
    page.context.add_cookies(cookies)
    response = page.goto(f"{base}{path}")
    assert response.status == 200, (path, who, response.status)
    if not path.startswith(("/admin/", "/api/")):  # Django's admin and ninja's docs set their own
        assert page.locator("html").get_attribute("lang") == lang
