import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from booking.rounds.demo import demo_park_build
from booking.rounds.models import AllocationRound
from booking.tenancy.models import Membership, Quota, QuotaChange, Tenant
from resources.models import Changeover, GpuNode, Resource, ResourceKind, TrainingRecord


def test_demo_park_is_complete_and_feels_real(db):
    logins = demo_park_build(seed=1)
    assert 18 <= Tenant.objects.count() <= 22
    assert {"startup", "enterprise", "academic"} == set(
        Tenant.objects.values_list("tier", flat=True)
    )
    assert {"hk", "sz"} == set(Tenant.objects.values_list("home_park", flat=True))
    gpu = GpuNode.objects.all()
    assert gpu.count() >= 4
    assert len(set(gpu.values_list("slurm_partition", flat=True))) == 2
    assert len(set(gpu.values_list("gpu_model", flat=True))) >= 2
    assert Resource.objects.filter(kind=ResourceKind.PILOT_LINE).count() == 3
    assert Resource.objects.filter(kind=ResourceKind.LAB_INSTRUMENT).count() >= 12
    assert (
        Changeover.objects.filter(
            line__slug="sic-gan-epi", from_recipe__code="sic-epi", to_recipe__code="gan-hemt"
        )
        .get()
        .minutes
        == 360
    )
    assert TrainingRecord.objects.exists()
    assert Quota.objects.count() == 4 * Tenant.objects.count()
    assert QuotaChange.objects.count() == Quota.objects.count()
    assert Membership.objects.filter(user__username=logins.manager, role="manager").exists()
    assert Membership.objects.filter(user__username=logins.member, role="member").exists()
    assert AllocationRound.objects.filter(status="open").count() == 1


def test_demo_loader_refuses_nonsense_and_saves_nothing(db, monkeypatch):
    import booking.rounds.demo as demo
    from resources.models import Location

    monkeypatch.setattr(
        demo, "TENANTS", [*demo.TENANTS[:3], ("Broken Weights Ltd", "startup", "hk", 0)]
    )
    with pytest.raises(CommandError) as caught:
        call_command("demo_park")
    assert "weight" in str(caught.value) and "nothing saved" in str(caught.value)
    assert not Tenant.objects.exists()
    assert not Location.objects.exists()


def test_demo_loader_refuses_a_changeover_to_an_unknown_recipe(db, monkeypatch):
    import booking.rounds.demo as demo
    from resources.models import Location

    real = demo.pilot_line_create

    def with_a_typo(**kwargs):
        matrix = kwargs.get("changeovers") or {}
        if matrix:
            first = next(iter(matrix))
            kwargs["changeovers"] = {**matrix, first: {**matrix[first], "no-such-recipe": 30}}
        return real(**kwargs)

    monkeypatch.setattr(demo, "pilot_line_create", with_a_typo)
    with pytest.raises(CommandError) as caught:
        call_command("demo_park")
    assert "no-such-recipe" in str(caught.value)
    assert not Location.objects.exists()


def test_a_refused_activity_row_stops_the_demo_and_saves_nothing(db, monkeypatch):
    import booking.demo.accounts as accounts
    from resources.models import Location

    kind, unit, prices, *rest = accounts.RATES[0]
    broken = (kind, unit, {**prices, "startup": (-5, 18)}, *rest)
    monkeypatch.setattr(accounts, "RATES", [broken, *accounts.RATES[1:]])
    with pytest.raises(CommandError) as caught:
        call_command("demo_park")
    assert "prices_not_negative" in str(caught.value) and "nothing saved" in str(caught.value)
    assert not Tenant.objects.exists() and not Location.objects.exists()
