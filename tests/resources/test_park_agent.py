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

    def run(self, *args: str):
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
