"""The park agent without Slurm: signatures, exactly-once per op_id, input checks; its client
retries a lost reply with the same op_id."""

from __future__ import annotations

import subprocess
import threading
from http.server import ThreadingHTTPServer

import pytest

from resources.slurm import SlurmError
from resources.slurm.agent import Journal, OpError, Slurm, make_handler
from resources.slurm.agent_client import AgentClient, AgentConfig

KEY = b"k" * 32


class FakeSlurm(Slurm):
    def __init__(self) -> None:
        super().__init__("testcluster")
        self.calls: list[tuple] = []

    def reservation(self, name: str) -> dict | None:
        return {"ReservationName": name}

    def run(self, *args: str, answer: str = ""):
        self.calls.append(("delete", args[-1].removeprefix("ReservationName=")))
        return subprocess.CompletedProcess(args, 0, "", "")


@pytest.fixture
def agent(tmp_path):
    slurm = FakeSlurm()
    journal = Journal(str(tmp_path / "journal.jsonl"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(KEY, slurm, journal))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    key_file = tmp_path / "agent.key"
    key_file.write_bytes(KEY)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield slurm, url, key_file, tmp_path
    server.shutdown()
    server.server_close()


def test_same_op_id_runs_once_and_survives_a_restart(agent):
    slurm, url, key_file, tmp_path = agent
    with AgentClient(AgentConfig(url=url, key_file=str(key_file))) as client:
        first = client.op("reservation_delete", {"name": "park_booking_1"}, op_id="op-1")
        again = client.op("reservation_delete", {"name": "park_booking_1"}, op_id="op-1")
        client.op("reservation_delete", {"name": "park_booking_1"}, op_id="op-2")
    assert first == again == {"name": "park_booking_1", "action": "deleted"}
    assert slurm.calls == [("delete", "park_booking_1"), ("delete", "park_booking_1")]
    # A restarted agent still knows what it did.
    journal = Journal(str(tmp_path / "journal.jsonl"))
    assert set(journal.done) == {"op-1", "op-2"}


def test_bad_signature_and_wrong_key_are_refused(agent, tmp_path):
    slurm, url, _key_file, _ = agent
    other = tmp_path / "other.key"
    other.write_bytes(b"x" * 32)
    with AgentClient(AgentConfig(url=url, key_file=str(other))) as client:
        with pytest.raises(SlurmError) as caught:
            client.reservation_delete(name="park_booking_1")
    assert caught.value.http_status == 401
    assert slurm.calls == []


def test_bad_arguments_are_refused_without_running(agent):
    slurm, url, key_file, _ = agent
    with AgentClient(AgentConfig(url=url, key_file=str(key_file))) as client:
        for op, args in [
            ("reservation_delete", {"name": "x; rm -rf /"}),
            ("account_limits", {"account": "acme", "fairshare": 0, "gpu_minutes": 10}),
            ("reservation_put", {"name": "r", "nodes": "gpu01", "start": 10, "end": 5,
                                 "accounts": ["acme"]}),
            ("shell", {}),
        ]:  # fmt: skip
            with pytest.raises(SlurmError) as caught:
                client.op(op, args)
            assert caught.value.http_status == 400
    assert slurm.calls == []


def test_validation_messages_name_the_field():
    slurm = FakeSlurm()
    with pytest.raises(OpError, match="accounts"):
        slurm.reservation_put("r", "gpu01", 1, 2, [])


class RunawaySlurm(Slurm):
    """sacctmgr's and sacct's answers as the dev cluster gives them after a controller crash."""

    def __init__(self, runaway: list[tuple[int, str]], accounts: dict[tuple[int, str], str]):
        super().__init__("testcluster")
        self.runaway = runaway
        self.accounts = accounts
        self.fixed = False

    def run(self, *args: str, answer: str = ""):
        if args[:2] == ("sacctmgr", "-i"):
            self.fixed = True
            self.runaway = []
            return subprocess.CompletedProcess(args, 0, "", "")
        if args[0] == "sacctmgr":
            if not self.runaway:
                out = "Runaway Jobs: No runaway jobs found on cluster testcluster\n"
            else:
                out = "".join(f"{i}|{n}|PENDING|2026-12-04T10:00:00\n" for i, n in self.runaway)
                out += "\nWould you like to fix these runaway jobs?\n"
            return subprocess.CompletedProcess(args, 0, out, "")
        assert args[0] == "sacct"
        out = "".join(f"{i}|{n}|{a}\n" for (i, n), a in self.accounts.items())
        return subprocess.CompletedProcess(args, 0, out, "")


def test_runaway_jobs_are_closed_only_when_all_are_the_parks():
    from resources.slurm.agent import dispatch

    args = {"name_prefix": "park-", "accounts": ["park", "acme"], "fix": True}
    # Job 7's id was given to a later job of another account: its record with the same name
    # is the one that counts.
    ours = RunawaySlurm(
        [(7, "park-12"), (8, "park-13")],
        {(7, "park-12"): "acme", (7, "other-job"): "physics", (8, "park-13"): "ACME"},
    )
    result = dispatch(ours, "runaway_jobs", args)
    assert ours.fixed and result["fixed"] == [7, 8]
    assert [j["ours"] for j in result["runaway"]] == [True, True]

    # One of them is not the park's (another name, or an account outside the park): none is
    # closed, since sacctmgr would close all of them.
    for runaway, accounts in (
        ([(7, "park-12"), (9, "train")], {(7, "park-12"): "acme", (9, "train"): "acme"}),
        ([(7, "park-12"), (9, "park-99")], {(7, "park-12"): "acme", (9, "park-99"): "physics"}),
        ([(9, "park-99")], {}),  # no accounting record with that name: not known as ours
    ):
        mixed = RunawaySlurm(runaway, accounts)
        result = dispatch(mixed, "runaway_jobs", args)
        assert not mixed.fixed and result["fixed"] == []
        assert not all(j["ours"] for j in result["runaway"])

    # Listing only never closes anything; nothing runaway is an empty answer.
    listed = RunawaySlurm([(7, "park-12")], {(7, "park-12"): "acme"})
    assert dispatch(listed, "runaway_jobs", {**args, "fix": False})["fixed"] == []
    assert not listed.fixed
    assert dispatch(RunawaySlurm([], {}), "runaway_jobs", args) == {"runaway": [], "fixed": []}
    with pytest.raises(OpError, match="accounts"):
        dispatch(RunawaySlurm([], {}), "runaway_jobs", {**args, "accounts": ["a b"]})


class RunawayAgent:
    """The agent's runaway_jobs answers, for the sync's side of it."""

    def __init__(self, runaway: list[dict], closes: bool = True):
        self.runaway, self.closes, self.fixes = runaway, closes, 0

    def runaway_jobs(self, *, name_prefix, accounts, fix=False):
        assert name_prefix == "park-" and accounts == ["acme", "park"]
        listed = list(self.runaway)
        fixed = []
        if fix:
            self.fixes += 1
            if self.closes:
                fixed, self.runaway = [j["id"] for j in listed], []
        return {"runaway": listed, "fixed": fixed}


def test_the_sync_closes_runaway_jobs_only_when_all_are_the_parks():
    from resources.slurm_park import WantedAccount, WantedState, _runaway_steps

    wanted = WantedState(
        parent="park", accounts=[WantedAccount(name="acme", fairshare=1000, gpu_minutes=None)]
    )
    agent = RunawayAgent([{"id": 9, "ours": True}, {"id": 7, "ours": True}])
    (step,) = _runaway_steps(wanted, agent=agent)
    assert step.text.startswith("7,9: 2 park job(s)") and step.fix is not None
    step.fix()
    assert agent.fixes == 1 and _runaway_steps(wanted, agent=agent) == []

    # One foreign job: both are reported, nothing can be fixed from here.
    mixed = RunawayAgent([{"id": 7, "ours": True}, {"id": 8, "ours": False}])
    steps = _runaway_steps(wanted, agent=mixed)
    assert [s.fix for s in steps] == [None, None]
    assert steps[1].text.startswith("8: runaway, not the park's")

    # The agent closed nothing: the step fails, so the report keeps it as drift.
    stuck = RunawayAgent([{"id": 7, "ours": True}], closes=False)
    (step,) = _runaway_steps(wanted, agent=stuck)
    with pytest.raises(SlurmError, match=r"not closed: \[7\]"):
        step.fix()
