"""Bad input is refused with a clear error, naming the field and the rule, before any solving."""

import pytest

from scheduler import (
    Problem,
    ProblemError,
    Request,
    Resource,
    Tenant,
    problem_from_json,
    solve,
)
from scheduler.problem import GPU_NODE, LAB_INSTRUMENT, PILOT_LINE


def _problem(*, requests=None, resources=None, tenants=None, horizon=24):
    resources = resources or (
        Resource("g1", GPU_NODE, capacity=8),
        Resource("line", PILOT_LINE, recipes=("SiC", "GaN"), changeovers=(("SiC", "GaN", 2),)),
        Resource("lab", LAB_INSTRUMENT),
    )
    tenants = tenants or (Tenant("acme"),)
    requests = requests or (Request("r1", "acme", "alice", ("g1",), 2, 0, 10),)
    return Problem(horizon, tuple(resources), tuple(tenants), tuple(requests))


def _refused(problem, code, field_part):
    with pytest.raises(ProblemError) as err:
        solve(problem, time_limit=1)
    assert err.value.code == code
    assert field_part in err.value.field
    assert str(err.value)  # a readable message
    return err.value


def test_it_refuses_an_unknown_resource():
    e = _refused(
        _problem(requests=(Request("r1", "acme", "u", ("gpu-x",), 2, 0, 10),)),
        "unknown_resource",
        "requests[r1].resources",
    )
    assert "gpu-x" in e.message


def test_it_refuses_a_negative_duration():
    _refused(
        _problem(requests=(Request("r1", "acme", "u", ("g1",), -2, 0, 10),)),
        "bad_duration",
        "requests[r1].duration",
    )


def test_it_refuses_a_window_shorter_than_the_duration():
    e = _refused(
        _problem(requests=(Request("r1", "acme", "u", ("g1",), 5, 3, 6),)),
        "window_too_short",
        "requests[r1]",
    )
    assert "shorter than the duration 5" in e.message


def test_it_refuses_a_changeover_naming_a_missing_recipe():
    line = Resource("line", PILOT_LINE, recipes=("SiC",), changeovers=(("SiC", "GaN", 2),))
    e = _refused(
        _problem(
            resources=(line,),
            requests=(Request("r1", "acme", "u", ("line",), 2, 0, 10, recipe="SiC"),),
        ),
        "unknown_recipe",
        "resources[line].changeovers",
    )
    assert "GaN" in e.message


def test_it_refuses_an_unknown_tenant_and_a_recipe_the_line_does_not_run():
    _refused(
        _problem(requests=(Request("r1", "nobody", "u", ("g1",), 2, 0, 10),)),
        "unknown_tenant",
        "requests[r1].tenant",
    )
    _refused(
        _problem(requests=(Request("r1", "acme", "u", ("line",), 2, 0, 10, recipe="Si"),)),
        "unknown_recipe",
        "requests[r1].recipe",
    )


def test_it_refuses_more_gpus_than_a_node_has_and_bad_weights():
    _refused(
        _problem(requests=(Request("r1", "acme", "u", ("g1",), 2, 0, 10, units=9),)),
        "bad_units",
        "requests[r1].units",
    )
    _refused(_problem(tenants=(Tenant("acme", weight=0),)), "bad_weight", "tenants[acme].weight")


def test_it_refuses_a_pool_mixing_resource_classes():
    _refused(
        _problem(requests=(Request("r1", "acme", "u", ("g1", "lab"), 2, 0, 10),)),
        "mixed_pool",
        "requests[r1].resources",
    )


def test_it_refuses_duplicate_ids_and_chains_across_tenants():
    r = Request("r1", "acme", "u", ("g1",), 2, 0, 10)
    _refused(_problem(requests=(r, r)), "duplicate_id", "requests[r1]")
    _refused(
        _problem(
            tenants=(Tenant("acme"), Tenant("other")),
            requests=(
                Request("r1", "acme", "u", ("g1",), 2, 0, 10, chain="c", chain_step=0),
                Request("r2", "other", "u", ("lab",), 2, 0, 10, chain="c", chain_step=1),
            ),
        ),
        "bad_chain",
        "chains[c]",
    )


def test_json_with_a_missing_field_or_unknown_field_is_refused():
    with pytest.raises(ProblemError) as err:
        problem_from_json('{"horizon": 5, "requests": [{"id": "r"}]}')
    assert err.value.code == "missing_field"
    assert "requests[0]" in err.value.field
    with pytest.raises(ProblemError) as err:
        problem_from_json('{"horizon": 5, "tenants": [{"id": "t", "wieght": 2}]}')
    assert err.value.code == "unknown_field"
    with pytest.raises(ProblemError) as err:
        problem_from_json("not json")
    assert err.value.code == "bad_json"
