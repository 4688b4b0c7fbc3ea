"""/healthz: the database, the queue and each configured Slurm cluster, as JSON."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client


class FakeSlurmrestd(BaseHTTPRequestHandler):
    """Answers slurmrestd's ping the way v0.0.38 does (a real HTTP server, not a mock)."""

    up = True

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path != "/slurm/v0.0.38/ping":
            self.send_error(404)
            return
        body = {
            "meta": {"Slurm": {"release": "22.05.8"}},
            "pings": [{"hostname": "ctl1", "ping": "UP" if self.up else "DOWN", "mode": "primary"}],
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def slurmrestd():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSlurmrestd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_checks_database_and_queue(db, settings):
    settings.SLURM_REST_URL = ""
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["queue"]["ok"]
    assert "pending" in body["checks"]["queue"]
    assert not any(name.startswith("slurm:") for name in body["checks"])


def test_healthz_asks_each_configured_slurm_cluster(db, settings, slurmrestd):
    settings.SLURM_REST_URL = slurmrestd
    settings.SLURM_TOKEN = "t"
    settings.SLURM_JWT_KEY_FILE = ""
    settings.SLURM_CLUSTER = "park"
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    check = response.json()["checks"]["slurm:park"]
    assert check["ok"] and check["controller"] == "ctl1"


def test_healthz_answers_503_naming_the_failing_check(db, settings):
    settings.SLURM_REST_URL = f"http://127.0.0.1:{_free_port()}"
    settings.SLURM_TOKEN = "t"
    settings.SLURM_JWT_KEY_FILE = ""
    settings.SLURM_CLUSTER = "park"
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["database"]["ok"]
    assert not body["checks"]["slurm:park"]["ok"] and body["checks"]["slurm:park"]["error"]


def test_healthz_asks_every_registered_cluster_and_names_the_one_down(db, settings, slurmrestd):
    from resources.clusters import Cluster, ClusterState, Jurisdiction

    settings.SLURM_REST_URL = slurmrestd
    settings.SLURM_TOKEN = "t"
    settings.SLURM_JWT_KEY_FILE = ""
    settings.SLURM_CLUSTER = "park"
    settings.HUB_TOKEN = "t"
    hub = Cluster.objects.create(
        name="gba-hub",
        jurisdiction=Jurisdiction.MAINLAND,
        rest_url=slurmrestd,
        credentials_from="HUB_TOKEN",
    )
    Cluster.objects.create(name="far-away", jurisdiction=Jurisdiction.MAINLAND)
    body = Client().get("/healthz").json()
    assert body["checks"]["slurm:gba-hub"]["ok"], body
    assert body["checks"]["slurm:far-away"] == {"ok": True, "configured": False}
    # The hub's controller stops answering: the check names it, the park's stays green.
    Cluster.objects.filter(pk=hub.pk).update(rest_url=f"http://127.0.0.1:{_free_port()}")
    response = Client().get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["slurm:gba-hub"]["ok"] and checks["slurm:park"]["ok"]
    # Marked down by an operator: not asked, and the park is healthy again.
    Cluster.objects.filter(pk=hub.pk).update(state=ClusterState.DOWN)
    response = Client().get("/healthz")
    assert response.status_code == 200 and "slurm:gba-hub" not in response.json()["checks"]
