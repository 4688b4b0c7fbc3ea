"""Every catalogue constraint holds in the database, and the services refuse nonsense with a message."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from resources.models import (
    Changeover,
    GpuNode,
    Location,
    MaintenanceWindow,
    Recipe,
    Resource,
    Training,
    TrainingRecord,
    WeeklyHours,
)
from resources.services import (
    gpu_node_create,
    line_set_changeovers,
    maintenance_add,
    training_grant,
)


def _integrity(fn):
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        fn()
    return str(info.value)


def test_database_refuses_maintenance_that_ends_before_it_starts(park):
    now = timezone.now()
    message = _integrity(
        lambda: MaintenanceWindow.objects.create(resource=park.gpu, start=now, end=now)
    )
    assert "maintenance_ends_after_start" in message or "CHECK" in message.upper()


def test_service_refuses_maintenance_that_ends_before_it_starts_and_saves_nothing(park):
    now = timezone.now()
    with pytest.raises(ValidationError) as info:
        maintenance_add(resource=park.gpu, start=now, end=now - dt.timedelta(hours=1))
    assert "end after it starts" in str(info.value.message_dict["end"])
    assert not MaintenanceWindow.objects.exists()


def test_database_refuses_gpu_count_of_zero(park):
    GpuNode.objects.filter(pk=park.gpu.pk).delete()
    message = _integrity(
        lambda: GpuNode.objects.create(
            resource=park.gpu,
            gpu_model="A100",
            gpu_count=0,
            gpu_memory_gb=80,
            cpus=1,
            memory_gb=1,
            slurm_cluster="c",
            slurm_partition="p",
            slurm_node="n",
        )
    )
    assert "gpu_node_gpu_count_positive" in message or "CHECK" in message.upper()


def test_service_refuses_gpu_node_with_zero_gpus_and_saves_nothing(park):
    before = Resource.objects.count()
    with pytest.raises(ValidationError) as info:
        gpu_node_create(
            name="Bad",
            slug="bad",
            location=park.gpu.location,
            gpu_model="A100",
            gpu_count=0,
            gpu_memory_gb=80,
            cpus=1,
            memory_gb=1,
            slurm_cluster="c",
            slurm_partition="p",
            slurm_node="bad",
        )
    assert "gpu_count" in info.value.message_dict
    assert Resource.objects.count() == before


def test_database_refuses_training_record_expiring_before_grant(park):
    today = timezone.localdate()
    message = _integrity(
        lambda: TrainingRecord.objects.create(
            user=park.bob,
            training=park.microscopy,
            granted_on=today,
            expires_on=today - dt.timedelta(days=1),
        )
    )
    assert "training_record_expires_after_grant" in message or "CHECK" in message.upper()


def test_service_refuses_training_expiring_before_grant(park):
    today = timezone.localdate()
    with pytest.raises(ValidationError) as info:
        training_grant(
            user=park.bob,
            training=park.microscopy,
            granted_on=today,
            expires_on=today - dt.timedelta(days=3),
        )
    assert "expiry date must be after the grant date" in str(info.value.message_dict["expires_on"])
    assert not TrainingRecord.objects.filter(user=park.bob).exists()


def test_changeover_matrix_naming_unknown_recipe_is_refused_and_old_matrix_kept(park):
    before = list(Changeover.objects.filter(line=park.line).values_list("pk", "minutes"))
    with pytest.raises(ValidationError) as info:
        line_set_changeovers(line=park.line, matrix={"sic": {"gan": 300, "aln": 120}})
    assert "unknown recipe “aln”" in str(info.value.message_dict["changeovers"])
    assert list(Changeover.objects.filter(line=park.line).values_list("pk", "minutes")) == before


def test_changeover_refuses_negative_minutes(park):
    with pytest.raises(ValidationError) as info:
        line_set_changeovers(line=park.line, matrix={"sic": {"gan": -5}})
    assert "≥ 0" in str(info.value.message_dict["changeovers"])


def test_changeover_refuses_recipe_of_another_line(park):
    other = Resource.objects.create(
        name="Other line", slug="other", kind="line", location=park.line.location
    )
    foreign = Recipe.objects.create(line=other, code="smt", name="SMT")
    own = Recipe.objects.get(line=park.line, code="sic")
    row = Changeover(line=park.line, from_recipe=own, to_recipe=foreign, minutes=10)
    with pytest.raises(ValidationError) as info:
        row.full_clean()
    assert "not a recipe of this line" in str(info.value.message_dict["to_recipe"])


def test_recipe_codes_are_unique_per_line(park):
    message = _integrity(lambda: Recipe.objects.create(line=park.line, code="sic", name="dup"))
    assert "recipe" in message.lower()


def test_opening_hours_must_close_after_they_open(park):
    message = _integrity(
        lambda: WeeklyHours.objects.create(
            resource=park.confocal, weekday=0, opens=dt.time(18), closes=dt.time(9)
        )
    )
    assert "weekly_hours_close_after_open" in message or "CHECK" in message.upper()


def test_only_gpu_nodes_have_capacity_above_one(park):
    message = _integrity(lambda: Resource.objects.filter(pk=park.confocal.pk).update(capacity=2))
    assert "resource_only_gpu_nodes_share" in message or "CHECK" in message.upper()
    resource = Resource.objects.get(pk=park.confocal.pk)
    resource.capacity = 3
    with pytest.raises(ValidationError) as info:
        resource.full_clean()
    assert "capacity" in info.value.message_dict


def test_resource_max_length_not_below_min(park):
    message = _integrity(
        lambda: Resource.objects.filter(pk=park.gpu.pk).update(
            min_length_minutes=120, max_length_minutes=60
        )
    )
    assert "resource_max_length_not_below_min" in message or "CHECK" in message.upper()


def test_training_validity_must_be_positive(db):
    message = _integrity(lambda: Training.objects.create(code="x", name="X", validity_days=0))
    assert "training_validity_positive" in message or "CHECK" in message.upper()


def test_biosafety_level_only_one_to_four(db):
    message = _integrity(
        lambda: Location.objects.create(name="R", level="room", park="hk", biosafety_level=5)
    )
    assert "location_biosafety_level_1_to_4" in message or "CHECK" in message.upper()


def test_biosafety_level_is_for_rooms_only(db):
    loc = Location(name="B", level="building", park="sz", biosafety_level=2)
    with pytest.raises(ValidationError) as info:
        loc.full_clean()
    assert "Only a room" in str(info.value.message_dict["biosafety_level"])


def test_a_location_cannot_be_inside_itself(db):
    a = Location.objects.create(name="A", level="building", park="hk")
    b = Location.objects.create(name="B", level="floor", park="hk", parent=a)
    a.parent = b
    with pytest.raises(ValidationError) as info:
        a.full_clean()
    assert "inside itself" in str(info.value.message_dict["parent"])
