"""CPUs and memory per node on round requests for a GPU node: checked where a request is made or
changed, given to the planner, which holds the node in every dimension, and measured by dominant
share when the GPU class is (PARK_GPU_FAIRNESS=dominant_share)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.urls import reverse

import scheduler
from booking.bookings.models import Booking, BookingEvent
from booking.errors import ParkError
from booking.rounds.adapter import round_problem_build
from booking.rounds.request_changes import round_request_change
from booking.rounds.requests import round_request_create
from resources.models import GpuNode, ResourceKind, ResourcePool
from tests.rounds import round_fixtures
from tests.rounds.round_fixtures import ask, at, close_and_solve

week_round = round_fixtures.week_round
drf_node = round_fixtures.drf_node

pytestmark = pytest.mark.django_db

# The DRF paper's example (Ghodsi et al.) on the node ``drf_node``: 9 CPUs and 18 GB, with GPUs
# enough that they never bind (8: a task's GPU is 1/8 of them, below its CPU or memory share).
A_TASK = {"cpus": 1, "memory_gb": 4}  # memory-heavy: 4/18 of the memory
B_TASK = {"cpus": 3, "memory_gb": 1}  # CPU-heavy: 3/9 of the CPUs
TASKS = 6  # each tenant asks more than fits


def _tasks(park, rnd, node) -> dict[int, str]:
    """Every task of both tenants: one GPU for one hour, all in the same hour (as the
    scheduler's DRF test gives each task its own one-slot request)."""
    tenant_of = {}
    for tenant, user, task in (
        (park.acme, park.alice, A_TASK),
        (park.globex, park.charlie, B_TASK),
    ):
        for i in range(TASKS):
            booking = ask(
                rnd,
                user=user,
                tenant=tenant,
                resource=node,
                start=10,
                end=11,
                minutes=60,
                title=f"{tenant.slug} task {i}",
                **task,
            )
            tenant_of[booking.pk] = tenant.slug
    return tenant_of


def _granted(plan: scheduler.Plan) -> list[scheduler.Assignment]:
    return [a for a in plan.assignments.values() if a.granted]


def _peak(problem: scheduler.Problem, granted, node: str) -> dict[str, int]:
    """The most GPUs, CPUs and memory the granted requests hold on ``node`` at any slot."""
    reqs = problem.request_by_id
    peak = {"gpus": 0, "cpus": 0, "memory": 0}
    for slot in range(problem.horizon):
        here = [reqs[a.request] for a in granted if node in a.resources and a.start <= slot < a.end]
        peak["gpus"] = max(peak["gpus"], sum(q.units for q in here))
        peak["cpus"] = max(peak["cpus"], sum(q.cpus for q in here))
        peak["memory"] = max(peak["memory"], sum(q.memory for q in here))
    return peak


def _split(granted, tenant_of) -> tuple[int, int]:
    tenants = [tenant_of[int(a.request)] for a in granted]
    return tenants.count("acme"), tenants.count("globex")


def test_the_problem_carries_the_nodes_and_the_requests_vectors(park, week_round, drf_node):
    with_vector = ask(week_round, user=park.alice, tenant=park.acme, resource=drf_node, **A_TASK)
    without = ask(week_round, user=park.alice, tenant=park.acme, resource=drf_node)
    problem = round_problem_build(allocation_round=week_round).problem
    node = problem.resource_by_id["drf"]
    assert (node.capacity, node.cpus, node.memory) == (8, 9, 18)
    asked = problem.request_by_id[str(with_vector.pk)]
    assert (asked.units, asked.cpus, asked.memory) == (1, 1, 4)
    # Not stated: the scheduler's default, not counted in that dimension.
    plain = problem.request_by_id[str(without.pk)]
    assert (plain.cpus, plain.memory) == (0, 0)
    # Lines and instruments have no CPUs or memory in the problem.
    assert {(r.cpus, r.memory) for r in problem.resources if r.id != "drf"} == {(0, 0)}


def test_without_the_vectors_the_plan_overbooks_the_node_and_with_them_it_does_not(
    park, week_round, drf_node, django_capture_on_commit_callbacks
):
    tenant_of = _tasks(park, week_round, drf_node)
    problem = round_problem_build(allocation_round=week_round).problem

    # The same round with GPUs alone (as before requests carried CPUs and memory).
    bare = problem.replace(
        resources=tuple(dataclasses.replace(r, cpus=0, memory=0) for r in problem.resources),
        requests=tuple(dataclasses.replace(q, cpus=0, memory=0) for q in problem.requests),
    )
    blind = scheduler.solve(bare, time_limit=5, workers=1, seed=0)
    assert _split(_granted(blind), tenant_of) == (4, 4)  # 8 GPUs, shared equally
    # What those 8 tasks really ask: 4 + 12 = 16 CPUs of 9, 16 + 4 = 20 GB of 18.
    overbooked = _peak(problem, _granted(blind), "drf")
    assert overbooked["cpus"] > 9 and overbooked["memory"] > 18

    # The round as stored: every dimension within the node.
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    stored = scheduler.problem_from_json(rnd.plan["problem"])
    plan = scheduler.plan_from_json(rnd.plan["plan"])
    granted = _granted(plan)
    peak = _peak(stored, granted, "drf")
    assert peak["gpus"] <= 8 and peak["cpus"] <= 9 and peak["memory"] <= 18, peak
    assert _split(granted, tenant_of) == (3, 2)
    assert scheduler.validate(stored, plan).ok


def test_dominant_share_gives_the_drf_split_and_equal_dominant_shares(
    park, week_round, drf_node, settings, django_capture_on_commit_callbacks
):
    settings.PARK_GPU_FAIRNESS = "dominant_share"
    tenant_of = _tasks(park, week_round, drf_node)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    stored = scheduler.problem_from_json(rnd.plan["problem"])
    plan = scheduler.plan_from_json(rnd.plan["plan"])
    granted = _granted(plan)
    # DRF: A 3 tasks (12 GB of 18 = 2/3), B 2 tasks (6 CPUs of 9 = 2/3).
    assert _split(granted, tenant_of) == (3, 2)
    peak = _peak(stored, granted, "drf")
    assert (peak["cpus"], peak["memory"]) == (9, 14)
    assert rnd.figures["measures"] == {"gpu": "dominant_share"}
    # Equal dominant shares, though A holds 3 GPU-hours and B 2: the vectors count.
    share = rnd.figures["share"]
    assert share["acme/gpu"] == pytest.approx(share["globex/gpu"], rel=1e-4)
    report = scheduler.validate(stored, plan)
    assert report.ok, report.violations


def test_in_hours_the_same_split_is_measured_in_gpu_hours(
    park, week_round, drf_node, django_capture_on_commit_callbacks
):
    tenant_of = _tasks(park, week_round, drf_node)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    assert _split(_granted(scheduler.plan_from_json(rnd.plan["plan"])), tenant_of) == (3, 2)
    share = rnd.figures["share"]
    assert share["acme/gpu"] == pytest.approx(1.5 * share["globex/gpu"], rel=1e-4)


def test_publishing_refuses_a_plan_over_the_nodes_cpus_and_writes_nothing(
    park, week_round, drf_node, django_capture_on_commit_callbacks
):
    """Publishing runs the capacity rule in every dimension: one more memory-heavy task in the
    stored plan fits the node's GPUs (6 of 8) and memory (18 of 18 GB) but not its CPUs (10 of
    9), and the publish is refused naming CPUs, with no request changed."""
    from booking.errors import Conflict
    from booking.rounds.services import round_publish

    tenant_of = _tasks(park, week_round, drf_node)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    plan = dict(rnd.plan)
    outcomes = dict(plan["outcomes"])
    granted_a = next(
        o for pk, o in outcomes.items() if o["granted"] and tenant_of[int(pk)] == "acme"
    )
    refused_a = next(
        pk for pk, o in outcomes.items() if not o["granted"] and tenant_of[int(pk)] == "acme"
    )
    outcomes[refused_a] = {**outcomes[refused_a], **{k: granted_a[k] for k in granted_a}}
    plan["outcomes"] = outcomes
    rnd.plan = plan
    rnd.save(update_fields=["plan"])
    before = sorted(Booking.objects.values_list("pk", "status"))
    with pytest.raises(Conflict) as refused:
        round_publish(allocation_round=rnd)
    assert refused.value.code == "plan_stale"
    assert refused.value.params["dimension"] == "CPUs"
    assert refused.value.params["have"] == 9
    assert "CPUs over its 9" in refused.value.message
    assert sorted(Booking.objects.values_list("pk", "status")) == before


def test_publishing_the_plan_as_solved_passes_the_same_check(
    park, week_round, drf_node, django_capture_on_commit_callbacks
):
    tenant_of = _tasks(park, week_round, drf_node)
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    round_fixtures.publish(rnd, django_capture_on_commit_callbacks)
    confirmed = Booking.objects.filter(pk__in=tenant_of, status="confirmed")
    assert confirmed.count() == 5
    assert sum(b.cpus for b in confirmed) <= 9 and sum(b.memory_gb for b in confirmed) <= 18


def test_a_pool_request_is_planned_only_on_members_that_hold_its_vector(park, week_round, drf_node):
    park.gpu.booking_mode = "round"
    park.gpu.save()  # gpu01: 4 GPUs, 32 CPUs, 256 GB
    pool = ResourcePool.objects.create(name="Any GPU", slug="any-gpu", kind=ResourceKind.GPU_NODE)
    pool.members.set([park.gpu, drf_node])
    big = ask(week_round, user=park.alice, tenant=park.acme, pool=pool, cpus=16, memory_gb=64)
    small = ask(week_round, user=park.alice, tenant=park.acme, pool=pool, cpus=2, memory_gb=8)
    problem = round_problem_build(allocation_round=week_round).problem
    assert problem.request_by_id[str(big.pk)].resources == ("gpu01",)
    assert set(problem.request_by_id[str(small.pk)].resources) == {"gpu01", "drf"}
    # A pool's limit is its largest member's.
    refused = _refused("too_many_cpus", "cpus", **_base(park, week_round, pool=pool, cpus=33))
    assert refused.params == {"name": "Any GPU", "max": 32}


# ---- the rules where a request is made ------------------------------------------------------


def _base(park, rnd, **changes):
    kwargs = dict(
        user=park.alice,
        tenant=park.acme,
        allocation_round=rnd,
        earliest_start=at(rnd, 0, 8),
        latest_end=at(rnd, 0, 20),
        duration_minutes=120,
        title="a run",
    )
    return kwargs | changes


def _refused(code, field, **kwargs) -> ParkError:
    before = (Booking.objects.count(), BookingEvent.objects.count())
    with pytest.raises(ParkError) as caught:
        round_request_create(**kwargs)
    errors = getattr(caught.value, "errors", [caught.value])
    found = [e for e in errors if e.code == code]
    assert found, [(e.code, e.message) for e in errors]
    assert found[0].field == field and found[0].message
    assert (Booking.objects.count(), BookingEvent.objects.count()) == before
    return found[0]


@pytest.mark.parametrize(
    ("asked", "code", "field", "limit", "words"),
    [
        ({"cpus": 10}, "too_many_cpus", "cpus", 9, "DRF node has at most 9 CPUs per node."),
        (
            {"memory_gb": 19},
            "too_much_memory",
            "memory_gb",
            18,
            "DRF node has at most 18 GB of memory per node.",
        ),
    ],
)
def test_more_than_the_node_has_is_refused_naming_the_limit(
    park, week_round, drf_node, asked, code, field, limit, words
):
    error = _refused(code, field, **_base(park, week_round, resource=drf_node, **asked))
    assert error.params == {"name": "DRF node", "max": limit}
    assert error.message == words
    # Exactly the node's capacity is fine.
    booking = round_request_create(
        **_base(park, week_round, resource=drf_node, cpus=9, memory_gb=18)
    )
    assert (booking.cpus, booking.memory_gb) == (9, 18)


@pytest.mark.parametrize(
    ("asked", "code", "field"),
    [
        ({"cpus": 2}, "cpus_not_allowed", "cpus"),
        ({"memory_gb": 4}, "memory_not_allowed", "memory_gb"),
    ],
)
def test_cpus_or_memory_for_a_resource_that_is_not_a_gpu_node_are_refused(
    park, week_round, asked, code, field
):
    kwargs = _base(park, week_round, resource=park.xrd, duration_minutes=240, **asked)
    error = _refused(code, field, **kwargs)
    assert "GPU node" in error.message
    # 0 means not stated: accepted, and nothing stored.
    booking = round_request_create(**(kwargs | {field: 0}))
    assert (booking.cpus, booking.memory_gb) == (0, 0)


def test_negative_cpus_or_memory_are_refused(park, week_round, drf_node):
    _refused("cpus_invalid", "cpus", **_base(park, week_round, resource=drf_node, cpus=-1))
    _refused(
        "memory_invalid", "memory_gb", **_base(park, week_round, resource=drf_node, memory_gb=-1)
    )


def test_the_messages_speak_the_readers_language(park, week_round, drf_node):
    from django.utils import translation

    for language, words in (
        ("zh-hant", "DRF node 每個節點最多有 9 個 CPU。"),
        ("zh-hans", "DRF node 每个节点最多有 9 个 CPU。"),
    ):
        with translation.override(language):
            error = _refused(
                "too_many_cpus", "cpus", **_base(park, week_round, resource=drf_node, cpus=10)
            )
            assert error.message == words
    with translation.override("zh-hant"):
        error = _refused(
            "memory_not_allowed",
            "memory_gb",
            **_base(park, week_round, resource=park.xrd, duration_minutes=240, memory_gb=1),
        )
        assert error.message == "只有 GPU 節點的申請才可要求記憶體。"


def test_a_change_checks_the_vector_against_the_node_again(park, week_round, drf_node):
    booking = ask(week_round, user=park.alice, tenant=park.acme, resource=drf_node, cpus=9)
    GpuNode.objects.filter(resource=drf_node).update(cpus=8)  # the node was resized
    window = (booking.earliest_start, booking.latest_end, booking.duration_minutes)
    with pytest.raises(ParkError) as caught:
        round_request_change(
            user=park.alice, booking=booking, latest_end=booking.latest_end - dt.timedelta(hours=1)
        )
    assert [e.code for e in caught.value.errors] == ["too_many_cpus"]
    booking.refresh_from_db()
    assert (booking.earliest_start, booking.latest_end, booking.duration_minutes) == window
    assert booking.cpus == 9


def test_an_instant_booking_states_no_vector_in_the_database(park):
    from django.db import IntegrityError, transaction

    start = round_fixtures.local_midnight(2) + dt.timedelta(hours=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            tenant=park.acme,
            user=park.alice,
            resource=park.gpu,
            title="instant",
            start=start,
            end=start + dt.timedelta(hours=1),
            status="confirmed",
            exclusive=False,
            cpus=4,
        )


# ---- the web form ---------------------------------------------------------------------------


def _form(rnd, **extra):
    start = at(rnd, 0, 8)
    return {
        "title": "fine-tune",
        "earliest_start": start.strftime("%Y-%m-%dT%H:%M"),
        "latest_end": (start + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
        "duration_hours": "2",
        "units": "1",  # offered on a GPU node only
        **extra,
    }


def test_the_form_offers_cpus_and_memory_for_a_gpu_node_and_stores_them(
    client, park, week_round, drf_node
):
    client.force_login(park.alice)
    page = client.get(reverse("resource", args=["drf"])).content.decode()
    assert 'name="cpus"' in page and 'max="9"' in page
    assert 'name="memory_gb"' in page and 'max="18"' in page
    assert "CPUs per node" in page and "Memory per node (GB)" in page
    response = client.post(
        reverse("booking_submit", args=["drf"]),
        _form(week_round, units=2, cpus=4, memory_gb=8, tenant=park.acme.pk),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get()
    assert (booking.units, booking.cpus, booking.memory_gb) == (2, 4, 8)
    # Shown where the request is shown: its page and the list.
    detail = client.get(reverse("booking_detail", args=[booking.pk])).content.decode()
    assert '<dd data-vector="cpus">4</dd>' in detail
    assert '<dd data-vector="memory_gb">8</dd>' in detail
    listed = client.get(reverse("my_bookings")).content.decode()
    assert '<span data-vector="cpus">4 CPUs</span>' in listed
    assert '<span data-vector="memory_gb">8 GB memory</span>' in listed
    # Blank means not stated.
    response = client.post(
        reverse("booking_submit", args=["drf"]),
        _form(week_round, cpus="", memory_gb="", tenant=park.acme.pk, title="plain"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plain = Booking.objects.get(title="plain")
    assert (plain.cpus, plain.memory_gb) == (0, 0)


@pytest.mark.parametrize(
    ("slug", "extra", "code"),
    [
        ("drf", {"cpus": 10}, "too_many_cpus"),
        ("drf", {"memory_gb": 19}, "too_much_memory"),
        ("xrd", {"cpus": 2}, "cpus_not_allowed"),
        ("xrd", {"memory_gb": 2}, "memory_not_allowed"),
    ],
)
def test_the_form_refuses_a_vector_the_resource_cannot_hold_and_stores_nothing(
    client, park, week_round, drf_node, slug, extra, code
):
    client.force_login(park.alice)
    data = _form(week_round, tenant=park.acme.pk, **extra)
    live = client.post(reverse("booking_validate", args=[slug]), data).content.decode()
    assert f'data-code="{code}"' in live
    sent = client.post(reverse("booking_submit", args=[slug]), data)
    assert sent.status_code == 400
    assert f'data-code="{code}"' in sent.content.decode()
    assert not Booking.objects.exists() and not BookingEvent.objects.exists()


def test_the_form_of_an_instrument_does_not_offer_cpus_or_memory(client, park, week_round):
    client.force_login(park.alice)
    page = client.get(reverse("resource", args=["xrd"])).content.decode()
    assert "CPUs per node" not in page and 'type="hidden" name="cpus"' in page


# ---- who sees the vectors -------------------------------------------------------------------


def test_charlie_cannot_see_alices_request_vectors(
    client, park, week_round, drf_node, django_capture_on_commit_callbacks
):
    mine = ask(
        week_round, user=park.alice, tenant=park.acme, resource=drf_node, cpus=7, memory_gb=13
    )
    client.force_login(park.charlie)
    assert client.get(reverse("booking_detail", args=[mine.pk])).status_code == 404
    listed = client.get(reverse("my_bookings")).content.decode()
    assert "data-vector" not in listed and mine.title not in listed
    # The operator's round page lists every request with its vector.
    rnd = close_and_solve(week_round, django_capture_on_commit_callbacks)
    client.force_login(park.olga)
    page = client.get(reverse("rounds:detail", args=[rnd.pk])).content.decode()
    assert '<span data-vector="cpus">7 CPUs</span>' in page
    assert '<span data-vector="memory_gb">13 GB memory</span>' in page
    # …and a member may not open it.
    client.force_login(park.charlie)
    assert client.get(reverse("rounds:detail", args=[rnd.pk])).status_code == 403
