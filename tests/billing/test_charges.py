"""Rate cards and charges: versions, tiers, peak/off-peak split, minimum, no-show, consumables,
GPU-hours × cluster factor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from booking.billing import charges, estimates, services
from booking.billing.models import ClusterFactor, LineKind, RateCard
from booking.errors import ParkError
from tests.billing.conftest import MARCH, at, card, closed_booking


def lines_of(park, tenant=None, month=MARCH):
    statement = services.statement_for(tenant=tenant or park.acme, month=month)
    statement = services.statement_refresh(statement=statement)
    return statement, list(statement.lines.order_by("kind", "band", "id"))


def test_peak_hours_are_weekdays_nine_to_six_local_time():
    # Monday 2 March 2026 08:00–10:00: one peak hour (09–10).
    assert charges.peak_seconds(at(2, 8), at(2, 10)) == 3600
    # Friday 17:00 to Monday 10:00: Friday 17–18 and Monday 09–10.
    assert charges.peak_seconds(at(6, 17), at(9, 10)) == 2 * 3600
    # A whole week holds 5 × 9 peak hours.
    assert charges.peak_seconds(at(2, 0), at(9, 0)) == 45 * 3600
    assert (
        charges.is_peak(at(2, 9))
        and not charges.is_peak(at(2, 18))
        and not charges.is_peak(at(7, 12))
    )


def test_a_booking_across_the_peak_boundary_is_split(park):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    # Monday 17:00–19:30: 1 h peak, 1.5 h off-peak.
    closed_booking(park, start=at(2, 17), hours=2.5)
    statement, lines = lines_of(park)
    by_band = {line.band: line for line in lines}
    assert by_band["peak"].quantity == Decimal("1.0000")
    assert by_band["peak"].amount == Decimal("100.00")
    assert by_band["off_peak"].quantity == Decimal("1.5000")
    assert by_band["off_peak"].amount == Decimal("90.00")
    assert statement.total == Decimal("190.00")


def test_the_split_follows_check_in_and_out_and_charges_hours_used(park):
    card()
    # Booked 17:00–20:00, used 17:30–18:30 (1 h: half peak, half off-peak).
    closed_booking(
        park,
        start=at(2, 17),
        hours=3,
        used_hours=1,
        checked_in=at(2, 17, 30),
        checked_out=at(2, 18, 30),
    )
    statement, _lines = lines_of(park)
    assert statement.total == Decimal("80.00")  # 0.5 × 100 + 0.5 × 60


def test_rate_versions_apply_from_their_date_and_are_never_edited(park):
    old = card(peak_price=Decimal("100.00"), valid_from=dt.date(2026, 1, 1))
    card(peak_price=Decimal("120.00"), valid_from=dt.date(2026, 3, 10))
    closed_booking(park, start=at(3, 10))  # Tuesday 3 March: the old version
    closed_booking(park, start=at(10, 10))  # Tuesday 10 March: the new version
    statement, lines = lines_of(park)
    assert sorted(line.unit_price for line in lines) == [Decimal("100.00"), Decimal("120.00")]
    assert statement.total == Decimal("220.00")
    old.peak_price = Decimal("1.00")
    with pytest.raises(ValueError, match="never changed"):
        old.save()
    assert RateCard.objects.get(pk=old.pk).peak_price == Decimal("100.00")


def test_a_new_version_may_not_start_in_a_closed_month(park):
    card()
    services.statement_close(statement=services.statement_for(tenant=park.acme, month=MARCH))
    with pytest.raises(ParkError) as refused:
        card(valid_from=dt.date(2026, 3, 15))
    assert refused.value.code == "rate_in_closed_month"
    assert refused.value.field == "valid_from"
    card(valid_from=dt.date(2026, 4, 1))  # after the closed month: fine


def test_tiers_have_their_own_rates_and_a_resource_card_wins_over_its_class(park):
    card(tier="startup", peak_price=Decimal("50.00"))
    card(tier="enterprise", peak_price=Decimal("150.00"))
    closed_booking(park, start=at(3, 10), tenant=park.acme)  # start-up
    closed_booking(park, start=at(3, 12), tenant=park.globex)  # enterprise
    assert lines_of(park, park.acme)[0].total == Decimal("50.00")
    assert lines_of(park, park.globex)[0].total == Decimal("150.00")
    card(resource=park.confocal, tier="startup", peak_price=Decimal("70.00"))
    assert lines_of(park, park.acme)[0].total == Decimal("70.00")


def test_a_booking_without_any_rate_is_not_charged(park):
    closed_booking(park, start=at(3, 10))
    statement, lines = lines_of(park)
    assert lines == [] and statement.total == Decimal("0.00")


def test_the_no_show_charge_is_per_booked_hour(park):
    card(no_show_per_hour=Decimal("40.00"))
    closed_booking(park, start=at(3, 10), hours=2, no_show=True)
    statement, lines = lines_of(park)
    assert [(line.kind, line.quantity, line.amount) for line in lines] == [
        (LineKind.NO_SHOW, Decimal("2.0000"), Decimal("80.00"))
    ]
    assert statement.total == Decimal("80.00")


def test_a_short_booking_is_topped_up_to_the_minimum_charge(park):
    card(peak_price=Decimal("100.00"), minimum_charge=Decimal("150.00"))
    closed_booking(park, start=at(3, 10), hours=1)
    statement, lines = lines_of(park)
    assert {line.kind: line.amount for line in lines} == {
        LineKind.USAGE: Decimal("100.00"),
        LineKind.MINIMUM: Decimal("50.00"),
    }
    assert statement.total == Decimal("150.00")


def test_a_line_run_is_charged_per_run_with_its_wafers_as_a_line(park):
    card(
        resource_class="line",
        unit="run",
        peak_price=Decimal("5000.00"),
        off_peak_price=Decimal("4000.00"),
        consumable_name="SiC wafers",
        consumable_price=Decimal("800.00"),
    )
    closed_booking(park, start=at(7, 8), hours=6, resource=park.line, wafers=3)  # Saturday
    statement, lines = lines_of(park)
    assert {line.kind: (line.quantity, line.amount) for line in lines} == {
        LineKind.USAGE: (Decimal("1.0000"), Decimal("4000.00")),
        LineKind.CONSUMABLE: (Decimal("3.0000"), Decimal("2400.00")),
    }
    assert (
        "SiC wafers" in [line for line in lines if line.kind == LineKind.CONSUMABLE][0].description
    )
    assert statement.total == Decimal("6400.00")


def test_gpu_hours_of_a_booking_are_priced_with_its_clusters_factor(park):
    card(
        resource_class="gpu",
        unit="gpu_hour",
        peak_price=Decimal("30.00"),
        off_peak_price=Decimal("30.00"),
    )
    # 2 GPUs for 3 h on Saturday: 6 GPU-hours on cluster "park".
    closed_booking(park, start=at(7, 10), hours=3, units=2, resource=park.gpu)
    assert lines_of(park)[0].total == Decimal("180.00")
    ClusterFactor.objects.create(cluster="park", factor=Decimal("1.25"))
    statement, lines = lines_of(park)
    assert lines[0].unit_price == Decimal("37.50")
    assert statement.total == Decimal("225.00")


def test_a_finished_job_without_a_booking_is_charged_gpu_hours_times_factor(park):
    from booking.compute.models import ComputeJob, JobState

    card(
        resource_class="gpu",
        unit="gpu_hour",
        peak_price=Decimal("20.00"),
        off_peak_price=Decimal("10.00"),
    )
    ClusterFactor.objects.create(cluster="park", factor=Decimal("0.800"))
    job = dict(
        tenant=park.acme,
        user=park.alice,
        pool=park.pool_gpu,
        name="train",
        script="#!/bin/sh",
        partition="gpu",
        gpus=2,
        time_limit_minutes=600,
    )
    # Saturday 7 March 10:00–14:00, 8 GPU-hours, all off-peak: 8 × (10 × 0.8).
    ComputeJob.objects.create(
        **job,
        state=JobState.COMPLETED,
        started_at=at(7, 10),
        ended_at=at(7, 14),
        gpu_hours=Decimal("8"),
    )
    # Still running: not charged.
    ComputeJob.objects.create(
        **job,
        state=JobState.RUNNING,
        started_at=at(7, 10),
        ended_at=at(7, 14),
        gpu_hours=Decimal("8"),
    )
    statement, lines = lines_of(park)
    assert [(line.kind, line.quantity, line.unit_price, line.amount) for line in lines] == [
        (LineKind.JOBS, Decimal("8.0000"), Decimal("8.00"), Decimal("64.00"))
    ]
    assert statement.total == Decimal("64.00")


def test_a_job_is_priced_with_the_factor_of_the_cluster_it_ran_on(park):
    """The cluster registry's rate factor prices a job by where it ran, not by its pool."""
    from booking.compute.models import ComputeJob, JobState
    from resources.clusters import Cluster, Jurisdiction

    card(
        resource_class="gpu",
        unit="gpu_hour",
        peak_price=Decimal("20.00"),
        off_peak_price=Decimal("10.00"),
    )
    hub = Cluster.objects.create(
        name="gba-hub", jurisdiction=Jurisdiction.MAINLAND, gpu_rate_factor=Decimal("1.5")
    )
    ComputeJob.objects.create(
        tenant=park.acme,
        user=park.alice,
        pool=park.pool_gpu,
        cluster=hub,
        name="train",
        script="#!/bin/sh",
        partition="gpu",
        gpus=2,
        time_limit_minutes=600,
        state=JobState.COMPLETED,
        started_at=at(7, 10),
        ended_at=at(7, 14),
        gpu_hours=Decimal("8"),
    )
    # Saturday, all off-peak: 8 GPU-hours × (10 × 1.5).
    statement, lines = lines_of(park)
    assert [(line.quantity, line.unit_price, line.amount) for line in lines] == [
        (Decimal("8.0000"), Decimal("15.00"), Decimal("120.00"))
    ]
    assert statement.total == Decimal("120.00")


def test_each_line_is_rounded_half_up_and_the_total_is_the_sum_of_lines(park):
    card(peak_price=Decimal("10.01"), off_peak_price=Decimal("10.01"))
    # 0.25 h × 10.01 = 2.5025 → 2.50; three such bookings on one line: 0.75 h → 7.5075 → 7.51.
    for day in (3, 4, 5):
        closed_booking(park, start=at(day, 10), hours=0.25)
    closed_booking(park, start=at(7, 10), hours=0.25)  # Saturday: its own off-peak line
    statement, lines = lines_of(park)
    assert [line.amount for line in lines] == [Decimal("2.50"), Decimal("7.51")]
    assert statement.total == sum(line.amount for line in lines) == Decimal("10.01")
    for line in lines:
        assert line.amount == charges.money(line.quantity * line.unit_price)


def test_the_estimate_prices_a_booking_before_it_is_sent(park):
    card(peak_price=Decimal("100.00"), off_peak_price=Decimal("60.00"))
    estimate = estimates.booking_estimate(
        tenant=park.acme, resource=park.confocal, start=at(2, 17), end=at(2, 19)
    )
    assert estimate.total == Decimal("160.00")
    assert [(x.band, x.quantity, x.amount) for x in estimate.lines] == [
        ("peak", Decimal("1.0000"), Decimal("100.00")),
        ("off_peak", Decimal("1.0000"), Decimal("60.00")),
    ]
    assert (
        estimates.booking_estimate(
            tenant=park.acme, resource=park.line, start=at(2, 17), end=at(2, 19)
        )
        is None
    )
