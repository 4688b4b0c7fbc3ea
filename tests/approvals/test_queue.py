"""The approval queue: a request on a resource needing approval holds its slot and quota,
waits for its approvers only, and is approved or denied (with a reason) with an audit event
and an e-mail to the requester in their language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from booking.approvals.services import approval_approve, approval_deny, approvals_expire
from booking.bookings.models import Booking, BookingEvent, BookingStatus
from booking.bookings.rules import booking_check
from booking.bookings.services import booking_cancel
from booking.errors import Conflict, NotFound, ParkError
from booking.tenancy.models import UserLanguage
from booking.tenancy.selectors import used_hours
from resources.models import ResourceKind

from .conftest import at, request_confocal


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def snapshot(booking):
    booking.refresh_from_db()
    return (booking.status, booking.reason_code, BookingEvent.objects.count(), len(mail.outbox))


def test_a_booking_of_a_resource_needing_approval_waits_and_tells_the_requester(
    approvals, django_capture_on_commit_callbacks
):
    park = approvals.park
    with django_capture_on_commit_callbacks(execute=True):
        booking = request_confocal(park)
    assert booking.status == BookingStatus.PENDING_APPROVAL
    event = BookingEvent.objects.get(booking=booking)
    assert (event.from_status, event.to_status, event.actor) == ("", "pending_approval", park.alice)
    assert [m.to for m in mail.outbox] == [["alice@acme.example"], ["stella@park.local"]]
    assert "Waiting for approval" in mail.outbox[0].subject
    # The approver is told it waits in their queue, in the language they read the park in.
    assert mail.outbox[1].subject == "Approval requested: Live imaging on Confocal 1"
    assert "/approvals/" in mail.outbox[1].body


def test_the_approver_is_told_in_their_own_language(approvals, django_capture_on_commit_callbacks):
    UserLanguage.objects.create(user=approvals.stella, language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        request_confocal(approvals.park)
    told = [m for m in mail.outbox if m.to == ["stella@park.local"]]
    assert len(told) == 1
    assert "请求审批" in told[0].subject


def test_a_waiting_request_holds_its_slot_and_counts_against_the_quota(approvals):
    park = approvals.park
    booking = request_confocal(park, hours=2)
    clash = booking_check(
        user=park.charlie,
        tenant=park.globex,
        resource=park.confocal,
        start=booking.start,
        end=booking.end,
    )
    assert "slot_taken" in {e.code for e in clash}
    week = (booking.start - dt.timedelta(days=7), booking.start + dt.timedelta(days=7))
    assert used_hours(
        tenant=park.acme, resource_class=ResourceKind.LAB_INSTRUMENT, start=week[0], end=week[1]
    ) == Decimal(2)


def test_the_approver_approves_in_the_queue_and_the_booking_is_confirmed_with_an_event(
    approvals, django_capture_on_commit_callbacks
):
    park = approvals.park
    booking = request_confocal(park)
    stella = client_for(approvals.stella)
    page = stella.get("/approvals/")
    assert page.status_code == 200
    assert f'id="approval-{booking.pk}"' in page.content.decode()
    assert "Acme Robotics" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = stella.post(
            f"/approvals/{booking.pk}/approve",
            {"note": "Bring your own slides"},
            HTTP_HX_REQUEST="true",
        )
    assert answer.status_code == 200
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.reason_code, booking.reason_text) == ("approved", "Bring your own slides")
    event = booking.events.order_by("-id").first()
    assert (event.from_status, event.to_status, event.actor) == (
        "pending_approval",
        "confirmed",
        approvals.stella,
    )
    assert event.note == "approved: Bring your own slides"
    assert mail.outbox[-1].to == ["alice@acme.example"]
    assert "Approved" in mail.outbox[-1].subject
    assert (
        f'id="approval-{booking.pk}"'
        not in stella.get("/approvals/").content.decode().split("Decided lately")[0]
    )


def test_a_denial_with_a_reason_refuses_frees_the_slot_and_the_quota(
    approvals, django_capture_on_commit_callbacks
):
    park = approvals.park
    booking = request_confocal(park, hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(approvals.stella).post(
            f"/approvals/{booking.pk}/deny", {"reason": "The cabinet is reserved for BSL-2 work"}
        )
    assert answer.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.REFUSED
    assert booking.reason_code == "approval_denied"
    assert booking.reason_text == "The cabinet is reserved for BSL-2 work"
    event = booking.events.order_by("-id").first()
    assert (event.to_status, event.actor, event.note) == (
        "refused",
        approvals.stella,
        "denied: The cabinet is reserved for BSL-2 work",
    )
    assert "Not approved" in mail.outbox[-1].subject
    assert "The cabinet is reserved for BSL-2 work" in mail.outbox[-1].body
    # The slot and the quota hours are free again.
    assert (
        booking_check(
            user=park.charlie,
            tenant=park.globex,
            resource=park.confocal,
            start=booking.start,
            end=booking.end,
        )
        == []
    )
    assert used_hours(
        tenant=park.acme,
        resource_class=ResourceKind.LAB_INSTRUMENT,
        start=booking.start,
        end=booking.end,
    ) == Decimal(0)


def test_a_denial_without_a_reason_is_refused_naming_the_field_and_changes_nothing(approvals):
    park = approvals.park
    booking = request_confocal(park)
    before = snapshot(booking)
    stella = client_for(approvals.stella)
    page = stella.post(f"/approvals/{booking.pk}/deny", {"reason": "   "})
    assert page.status_code == 422
    assert "Give the requester a reason" in page.content.decode()
    partial = stella.post(f"/approvals/{booking.pk}/deny", {}, HTTP_HX_REQUEST="true")
    assert partial.headers["HX-Retarget"] == f"#approval-{booking.pk}-error"
    assert "Give the requester a reason" in partial.content.decode()
    with pytest.raises(ParkError) as info:
        approval_deny(user=approvals.stella, booking_id=booking.pk, reason="")
    assert (info.value.code, info.value.field, info.value.status) == (
        "reason_required",
        "reason",
        422,
    )
    assert snapshot(booking) == before


def test_an_approver_of_another_resource_neither_sees_nor_decides_the_request(approvals):
    park = approvals.park
    booking = request_confocal(park)
    before = snapshot(booking)
    victor = client_for(approvals.victor)
    page = victor.get("/approvals/")
    assert page.status_code == 200
    assert f"approval-{booking.pk}" not in page.content.decode()
    assert "Live imaging" not in page.content.decode()
    assert victor.post(f"/approvals/{booking.pk}/approve").status_code == 404
    assert victor.post(f"/approvals/{booking.pk}/deny", {"reason": "no"}).status_code == 404
    with pytest.raises(NotFound):
        approval_approve(user=approvals.victor, booking_id=booking.pk)
    assert snapshot(booking) == before


def test_the_tenants_manager_approves_where_the_resource_lets_the_pi_decide(approvals):
    park = approvals.park
    park.confocal.approval_by_tenant_manager = True
    park.confocal.save()
    booking = request_confocal(park)
    assert f"approval-{booking.pk}" in client_for(park.bob).get("/approvals/").content.decode()
    approval_approve(user=park.bob, booking_id=booking.pk)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_another_tenants_pi_and_members_cannot_see_or_act(approvals):
    park = approvals.park
    park.confocal.approval_by_tenant_manager = True
    park.confocal.save()
    booking = request_confocal(park)
    before = snapshot(booking)
    dave = client_for(approvals.dave)  # manages Globex: a PI, but not Acme's
    assert f"approval-{booking.pk}" not in dave.get("/approvals/").content.decode()
    assert dave.post(f"/approvals/{booking.pk}/approve").status_code == 404
    charlie = client_for(park.charlie)  # approves nothing at all
    assert charlie.get("/approvals/").status_code == 404
    assert charlie.post(f"/approvals/{booking.pk}/deny", {"reason": "x"}).status_code == 404
    # alice made the request; she does not approve it.
    assert client_for(park.alice).post(f"/approvals/{booking.pk}/approve").status_code == 404
    assert snapshot(booking) == before


def test_the_queue_is_in_the_menu_only_of_those_who_approve(approvals):
    park = approvals.park
    assert 'href="/approvals/"' in client_for(approvals.stella).get("/bookings/").content.decode()
    assert 'href="/approvals/"' not in client_for(park.alice).get("/bookings/").content.decode()
    assert 'href="/approvals/"' not in client_for(park.bob).get("/bookings/").content.decode()


def test_the_requester_sees_who_the_request_waits_for(approvals):
    park = approvals.park
    booking = request_confocal(park)
    alice = client_for(park.alice)
    detail = alice.get(f"/bookings/{booking.pk}/").content.decode()
    assert "Waiting for approval by Stella Wong" in detail
    listing = alice.get("/bookings/").content.decode()
    assert "status-pending_approval" in listing
    assert "Waiting for approval by Stella Wong." in listing
    # Another tenant's member sees nothing of it.
    assert client_for(park.charlie).get(f"/bookings/{booking.pk}/").status_code == 404


def test_the_requester_may_cancel_while_waiting_and_the_slot_is_freed(approvals):
    park = approvals.park
    booking = request_confocal(park)
    booking = booking_cancel(user=park.alice, booking=booking)
    assert booking.status == BookingStatus.CANCELLED
    with pytest.raises(Conflict) as info:
        approval_approve(user=approvals.stella, booking_id=booking.pk)
    assert info.value.code == "not_pending"
    assert request_confocal(park, user=park.charlie, tenant=park.globex).status == (
        BookingStatus.PENDING_APPROVAL
    )


def test_a_request_nobody_decided_lapses_at_its_start_and_frees_its_slot(
    approvals, django_capture_on_commit_callbacks
):
    park = approvals.park
    booking = request_confocal(park)
    assert approvals_expire(now=booking.start - dt.timedelta(minutes=1)) == []
    with pytest.raises(Conflict) as info:
        approval_approve(
            user=approvals.stella,
            booking_id=booking.pk,
            now=booking.start + dt.timedelta(seconds=1),
        )
    assert info.value.code == "approval_lapsed"
    with django_capture_on_commit_callbacks(execute=True):
        assert approvals_expire(now=booking.start) == [booking.pk]
    booking.refresh_from_db()
    assert (booking.status, booking.reason_code) == (BookingStatus.REFUSED, "approval_expired")
    assert booking.events.order_by("-id").first().actor is None
    assert "Nobody approved it before its start" in mail.outbox[-1].body
    assert not Booking.objects.filter(status=BookingStatus.PENDING_APPROVAL).exists()


def test_a_decided_request_cannot_be_decided_again(approvals):
    park = approvals.park
    booking = request_confocal(park)
    approval_deny(user=approvals.stella, booking_id=booking.pk, reason="Room closed")
    before = snapshot(booking)
    with pytest.raises(Conflict) as info:
        approval_approve(user=approvals.stella, booking_id=booking.pk)
    assert info.value.code == "not_pending"
    assert snapshot(booking) == before


def test_the_decision_mails_are_written_in_the_requesters_language(
    approvals, django_capture_on_commit_callbacks
):
    park = approvals.park
    UserLanguage.objects.create(user=park.alice, language="zh-hant")
    with django_capture_on_commit_callbacks(execute=True):
        waiting = request_confocal(park)
        other = request_confocal(park, start=at(3, 10), title="Fixed cells")
    assert "等候批核" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(user=approvals.stella, booking_id=waiting.pk)
        approval_deny(user=approvals.stella, booking_id=other.pk, reason="顯微鏡維修中")
    approved, denied = mail.outbox[-2], mail.outbox[-1]
    assert "已批核" in approved.subject
    assert "未獲批核" in denied.subject
    assert "顯微鏡維修中" in denied.body
    assert "原因" in denied.body


def test_an_unknown_recipe_on_a_line_waits_a_known_one_is_confirmed(approvals):
    from booking.bookings.services import booking_create_instant
    from resources.models import ApprovalPolicy, Recipe

    park = approvals.park
    line = park.line
    line.booking_mode = "instant"
    line.approval = ApprovalPolicy.NEW_RECIPE
    line.save()
    line.approvers.add(approvals.stella)
    sic, gan = Recipe.objects.get(line=line, code="sic"), Recipe.objects.get(line=line, code="gan")

    def run(days, recipe, tenant=park.acme, user=park.alice):
        start = at(days, 8)
        return booking_create_instant(
            user=user,
            tenant=tenant,
            resource=line,
            start=start,
            end=start + dt.timedelta(hours=4),
            recipe=recipe,
            title=f"{recipe.code} run",
        )

    first = run(2, sic)
    assert first.status == BookingStatus.PENDING_APPROVAL
    approval_approve(user=approvals.stella, booking_id=first.pk)
    assert run(3, sic).status == BookingStatus.CONFIRMED  # approved once: known now
    assert run(4, gan).status == BookingStatus.PENDING_APPROVAL  # a new recipe for Acme
    # Known to Acme, not to Globex.
    assert run(5, sic, tenant=park.globex, user=park.charlie).status == (
        BookingStatus.PENDING_APPROVAL
    )


def test_a_waiting_request_is_tentative_in_the_calendar_feed(approvals):
    from booking.tokens.services import calendar_feed_regenerate

    park = approvals.park
    request_confocal(park)
    token = calendar_feed_regenerate(user=park.alice)
    feed = Client().get(f"/calendar/{token}.ics").content.decode()
    assert "STATUS:TENTATIVE" in feed


def test_the_admin_refuses_an_approval_rule_with_nobody_to_approve(approvals):
    from resources.admin import ResourceForm

    confocal = approvals.park.confocal
    nobody = ResourceForm(data={"approval": "always", "approvers": []}, instance=confocal)
    assert "approvers" in nobody.errors
    managers = ResourceForm(
        data={"approval": "always", "approvers": [], "approval_by_tenant_manager": "on"},
        instance=confocal,
    )
    assert managers.is_valid(), managers.errors
    staff = ResourceForm(
        data={"approval": "new_recipe", "approvers": [approvals.stella.pk]}, instance=confocal
    )
    assert staff.is_valid(), staff.errors


def test_every_decision_is_in_the_bookings_admin_history(approvals):
    park = approvals.park
    booking = request_confocal(park)
    approval_deny(user=approvals.stella, booking_id=booking.pk, reason="Room closed")
    admin = client_for(park.olga)
    page = admin.get(f"/admin/bookings/booking/{booking.pk}/change/").content.decode()
    assert "denied: Room closed" in page
    assert "stella" in page
