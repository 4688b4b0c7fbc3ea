"""The private iCal feed: RFC 5545 output that parses back, a secret URL, revocation, no leaks."""

from __future__ import annotations

import datetime as dt
import re

from django.urls import reverse
from django.utils import timezone

from booking.bookings.ical import calendar, escape_text, fold
from booking.bookings.services import booking_cancel, booking_create_instant
from booking.tokens.models import CalendarFeedToken
from booking.tokens.services import calendar_feed_regenerate


def at(days: int, hour: int) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def parse_ics(text: str) -> list[dict]:
    """A small, strict RFC 5545 reader: checks CRLF and line length, unfolds, unescapes."""
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    physical = raw.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in physical)
    assert all(len(line) <= 75 for line in physical), [len(x) for x in physical]
    logical: list[str] = []
    for line in physical:
        text_line = line.decode("utf-8")
        if text_line.startswith(" "):
            logical[-1] += text_line[1:]
        else:
            logical.append(text_line)
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR"
    events, current = [], None
    for line in logical:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            current[name] = re.sub(
                r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value
            )
    return events


def test_fold_never_splits_a_utf8_character_and_keeps_75_octets():
    line = "SUMMARY:" + "顯微鏡預約" * 30
    folded = fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode("utf-8")) <= 75
        part.encode("utf-8").decode("utf-8")
    assert folded.replace("\r\n ", "") == line


def test_escape_text_escapes_the_special_characters():
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_calendar_round_trips_through_a_parser():
    start = dt.datetime(2030, 1, 7, 2, 0, tzinfo=dt.UTC)
    text = calendar(
        name="x",
        events=[
            {
                "uid": "booking-1@park",
                "stamp": start,
                "start": start,
                "end": start + dt.timedelta(hours=1),
                "summary": "Run, with; odd \\ chars\nand a long tail " + "x" * 100,
            }
        ],
    )
    (event,) = parse_ics(text)
    assert event["DTSTART"] == "20300107T020000Z" and event["DTEND"] == "20300107T030000Z"
    assert event["SUMMARY"].startswith("Run, with; odd \\ chars\nand a long tail")
    assert event["UID"] == "booking-1@park" and event["DTSTAMP"] == "20300107T020000Z"


def test_feed_lists_own_bookings_in_utc_and_parses_back(client, park):
    mine = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 11),
        title="Cells, fixed; stained",
    )
    booking_create_instant(
        user=park.charlie,
        tenant=park.globex,
        resource=park.confocal,
        start=at(2, 12),
        end=at(2, 13),
        title="Globex run",
    )
    token = calendar_feed_regenerate(user=park.alice)
    response = client.get(reverse("calendar_feed", args=[token]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = parse_ics(response.content.decode())
    assert len(events) == 1
    (event,) = events
    assert event["SUMMARY"].startswith("Cells, fixed; stained")
    assert event["DTSTART"] == mine.start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert event["UID"] == f"booking-{mine.pk}@testserver"
    assert "Globex" not in response.content.decode()


def test_a_cancelled_booking_is_published_as_cancelled(client, park):
    b = booking_create_instant(
        user=park.alice,
        tenant=park.acme,
        resource=park.confocal,
        start=at(2, 10),
        end=at(2, 11),
        title="Run",
    )
    booking_cancel(user=park.alice, booking=b)
    token = calendar_feed_regenerate(user=park.alice)
    (event,) = parse_ics(client.get(reverse("calendar_feed", args=[token])).content.decode())
    assert event["STATUS"] == "CANCELLED"


def test_regenerating_revokes_the_old_link(client, park):
    old = calendar_feed_regenerate(user=park.alice)
    new = calendar_feed_regenerate(user=park.alice)
    assert client.get(reverse("calendar_feed", args=[old])).status_code == 404
    assert client.get(reverse("calendar_feed", args=[new])).status_code == 200


def test_only_a_hash_of_the_secret_is_stored(park):
    token = calendar_feed_regenerate(user=park.alice)
    row = CalendarFeedToken.objects.get(user=park.alice)
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_unknown_token_answers_404(client, park):
    assert client.get(reverse("calendar_feed", args=["guess"])).status_code == 404


def test_the_settings_page_shows_a_new_link_once(client, park):
    client.force_login(park.alice)
    page = client.get(reverse("calendar_feed_settings")).content.decode()
    assert "no feed address yet" in page
    page = client.post(reverse("calendar_feed_settings")).content.decode()
    url = re.search(r'value="(http[^"]+\.ics)"', page).group(1)
    assert client.get(url).status_code == 200
    page = client.get(reverse("calendar_feed_settings")).content.decode()
    assert ".ics" not in page and "Regenerate link" in page
