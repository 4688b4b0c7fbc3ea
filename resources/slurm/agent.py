"""The park agent: the few Slurm changes slurmrestd 22.05 cannot make, run beside the controller.

slurmrestd v0.0.38 creates accounts and associations (with their limits) and deletes them, but
it silently ignores new limits on an association that exists, and it has no endpoint that
creates, updates or deletes a reservation. This small HTTP service does exactly those changes
with ``sacctmgr`` and ``scontrol`` on the controller host and nothing else:

* ``account_limits``   set an account's fair-share, ``GrpTRESMins=gres/gpu=N`` (N=-1 clears) and
  optionally its parent account
* ``reservation_put``  create or update a reservation (nodes, window, accounts) to the given state
* ``reservation_delete`` remove a reservation (absent already = done)
* ``job_release``      release a job Slurm holds after a failed launch (it happens after a
  controller crash: "launch failed requeued held"), only if its comment is the given marker
* ``runaway_jobs``     list the jobs accounting still records as pending or running although the
  controller has forgotten them (a controller crash loses just-submitted jobs this way) and,
  with ``fix``, close them (``sacctmgr show runawayjobs`` answered yes) - only when every one is
  the park's: its name has the park's prefix and its account is one of the park's accounts

Every operation states the wanted end state (declarative), so running it twice changes nothing.
On top, each request carries an ``op_id``: the agent keeps a journal of finished operations and
answers a repeated ``op_id`` with the recorded result without running anything again (a client
whose reply was lost may retry safely). Requests are signed: HMAC-SHA256 over the time stamp and
the body with a key only root and the park service read; stale (> 60 s) or badly signed requests
are refused with 401.

Standard library only (it runs under the system Python on the controller host)::

    python3 resources/slurm/agent.py --listen 127.0.0.1:16821 --key-file KEY --journal FILE
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("park-agent")

MAX_SKEW = 60  # seconds a signed request stays valid
JOURNAL_KEEP = 5000  # finished operations remembered for replies to retries

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_NODES = re.compile(r"^[A-Za-z0-9_\[\],-]{1,200}$")


class OpError(Exception):
    """A refused operation: bad input (400) or Slurm said no (409)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sign(key: bytes, stamp: str, body: bytes) -> str:
    return hmac.new(key, stamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


# --- operations ---------------------------------------------------------------------------------


class Slurm:
    """Runs the Slurm commands (argument lists, never a shell)."""

    def __init__(self, cluster: str, timeout: float = 30.0) -> None:
        self.cluster = cluster
        self.timeout = timeout

    def run(self, *args: str, answer: str = "") -> subprocess.CompletedProcess:
        """Run a Slurm command; ``answer``: what it reads on stdin (default: nothing, at EOF)."""
        env = {k: v for k, v in os.environ.items() if k != "SLURM_JWT"}
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=self.timeout,
            env=env,
            check=False,
            input=answer,
        )

    def account_limits(
        self, account: str, fairshare: int, gpu_minutes: int, parent: str | None = None
    ) -> dict:
        if not _NAME.match(account):
            raise OpError("account: not a Slurm account name")
        if parent is not None and not _NAME.match(parent):
            raise OpError("parent: not a Slurm account name")
        if not (1 <= fairshare <= 1_000_000_000):
            raise OpError("fairshare: must be 1..1e9")
        if gpu_minutes < -1:
            raise OpError("gpu_minutes: must be -1 (no limit) or more")
        # Separate calls: one "set" whose values are all current already makes sacctmgr say
        # "Nothing modified" and skip the others in the same call.
        self._modify(account, f"fairshare={fairshare}", f"GrpTRESMins=gres/gpu={gpu_minutes}")
        if parent and self._own_association(account).get("parent") != parent:
            self._modify(account, f"parent={parent}")
        have = self._own_association(account)
        want_limit = "" if gpu_minutes < 0 else f"gres/gpu={gpu_minutes}"
        if (
            have.get("fairshare") != str(fairshare)
            or have.get("limit") != want_limit
            or (parent and have.get("parent") != parent)
        ):
            raise OpError(f"sacctmgr did not take the change: {account} has {have}", status=409)
        return {
            "account": account,
            "fairshare": fairshare,
            "gpu_minutes": gpu_minutes,
            "parent": parent,
        }

    def _modify(self, account: str, *settings: str) -> None:
        done = self.run(
            "sacctmgr", "-i", "modify", "account", "where", f"name={account}",
            f"cluster={self.cluster}", "set", *settings,
        )  # fmt: skip
        text = (done.stdout + done.stderr).strip()
        # "Nothing modified" is success: the account already had these values.
        if done.returncode != 0 and "Nothing modified" not in text:
            raise OpError(f"sacctmgr: {text}", status=409)

    def _own_association(self, account: str) -> dict:
        done = self.run(
            "sacctmgr", "-n", "-P", "show", "assoc", "where", f"account={account}",
            f"cluster={self.cluster}", "format=user,parentname,fairshare,grptresmins",
        )  # fmt: skip
        for line in done.stdout.splitlines():
            user, parent, share, limit = (line.split("|") + ["", "", "", ""])[:4]
            if not user:
                return {"parent": parent, "fairshare": share, "limit": limit}
        raise OpError(f"account {account} has no association on {self.cluster}", status=409)

    def reservation(self, name: str) -> dict | None:
        done = self.run("scontrol", "-o", "show", "reservation", name)
        if done.returncode != 0 or not done.stdout.strip():
            return None
        fields = {}
        for part in done.stdout.split():
            key, _, value = part.partition("=")
            fields[key] = value
        return fields

    def reservation_put(
        self, name: str, nodes: str, start: int, end: int, accounts: list[str]
    ) -> dict:
        if not _NAME.match(name):
            raise OpError("name: not a reservation name")
        if not _NODES.match(nodes):
            raise OpError("nodes: not a node list")
        if not accounts or not all(_NAME.match(a) for a in accounts):
            raise OpError("accounts: one or more Slurm account names")
        if end <= start:
            raise OpError("end: must be after start")
        now = int(time.time())
        if end <= now:
            raise OpError("end: the window is over")
        start = max(start, now + 1)
        window = [f"StartTime={_slurm_time(start)}", f"EndTime={_slurm_time(end)}"]
        common = [f"Nodes={nodes}", f"Accounts={','.join(accounts)}"]
        have = self.reservation(name)
        if have is None:
            # IGNORE_JOBS: a job already running on the node keeps running (it was let in by
            # the park's rules); new jobs of other accounts are kept off the window.
            done = self.run(
                "scontrol", "create", "reservation", f"ReservationName={name}", *window,
                *common, "Flags=IGNORE_JOBS",
            )  # fmt: skip
            action = "created"
        else:
            args = list(common)
            began = _parse_slurm_time(have.get("StartTime", "")) <= now
            if began:
                # A started reservation keeps its start; only its end and members can change.
                args.append(f"EndTime={_slurm_time(end)}")
            else:
                args.extend(window)
            done = self.run("scontrol", "update", f"ReservationName={name}", *args)
            action = "updated"
        if done.returncode != 0:
            raise OpError(f"scontrol: {(done.stdout + done.stderr).strip()}", status=409)
        return {"name": name, "action": action}

    def reservation_delete(self, name: str) -> dict:
        if not _NAME.match(name):
            raise OpError("name: not a reservation name")
        if self.reservation(name) is None:
            return {"name": name, "action": "absent"}
        done = self.run("scontrol", "delete", f"ReservationName={name}")
        if done.returncode != 0 and self.reservation(name) is not None:
            raise OpError(f"scontrol: {(done.stdout + done.stderr).strip()}", status=409)
        return {"name": name, "action": "deleted"}


def _job_release(slurm: Slurm, job_id: int, comment: str) -> dict:
    if job_id <= 0 or not comment:
        raise OpError("job_id and comment are required")
    done = slurm.run("scontrol", "-o", "show", "job", str(job_id))
    fields = dict(part.partition("=")[::2] for part in done.stdout.split())
    if done.returncode != 0 or not fields:
        return {"job_id": job_id, "action": "absent"}
    if fields.get("Comment") != comment:
        raise OpError(f"job {job_id} is not the job with that comment", status=409)
    if fields.get("JobState") != "PENDING" or fields.get("Reason") != "launch_failed_requeued_held":
        return {"job_id": job_id, "action": "not held"}
    released = slurm.run("scontrol", "release", str(job_id))
    if released.returncode != 0:
        raise OpError(f"scontrol: {(released.stdout + released.stderr).strip()}", status=409)
    return {"job_id": job_id, "action": "released"}


_RUNAWAY_FORMAT = "format=ID,Name,State,TimeSubmit"


def _runaway_list(slurm: Slurm) -> list[dict]:
    # The question whether to fix them is answered "no". (At EOF sacctmgr 22.05 asks again in a
    # busy loop for its 30 seconds to decide: the listing then took 30 s of CPU and timed out.)
    done = slurm.run(
        "sacctmgr",
        "-n",
        "-P",
        "show",
        "runawayjobs",
        f"cluster={slurm.cluster}",
        _RUNAWAY_FORMAT,
        answer="n\n",
    )
    if done.returncode != 0:
        raise OpError(f"sacctmgr: {(done.stdout + done.stderr).strip()}", status=409)
    jobs = []
    for line in done.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4 or not parts[0].isdigit():
            continue  # the "no runaway jobs" line, the question, blank lines
        jobs.append({"id": int(parts[0]), "name": parts[1], "state": parts[2], "submit": parts[3]})
    return jobs


def _accounts_of(slurm: Slurm, jobs: list[dict]) -> dict[tuple[int, str], set[str]]:
    """(job id, name) → the accounts of the accounting records with that id and name (a crashed
    controller may have given a lost job's id to a later job: -D lists every record of an id)."""
    if not jobs:
        return {}
    ids = ",".join(str(j["id"]) for j in jobs)
    done = slurm.run(
        "sacct", "-n", "-P", "-X", "-D", f"--clusters={slurm.cluster}", "-j", ids,
        "--format=JobIDRaw,JobName,Account",
    )  # fmt: skip
    found: dict[tuple[int, str], set[str]] = {}
    for line in done.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 3 and parts[0].isdigit():
            found.setdefault((int(parts[0]), parts[1]), set()).add(parts[2].lower())
    return found


def _runaway_jobs(slurm: Slurm, fix: bool, name_prefix: str, accounts: list[str]) -> dict:
    if not name_prefix or not _NAME.match(name_prefix):
        raise OpError("name_prefix: required, a job-name prefix")
    if not accounts or not all(_NAME.match(a) for a in accounts):
        raise OpError("accounts: one or more Slurm account names")
    allowed = {a.lower() for a in accounts}
    jobs = _runaway_list(slurm)
    owners = _accounts_of(slurm, jobs)
    for job in jobs:
        have = owners.get((job["id"], job["name"]), set())
        job["ours"] = job["name"].startswith(name_prefix) and bool(have) and have <= allowed
    fixed: list[int] = []
    if fix and jobs and all(j["ours"] for j in jobs):
        # sacctmgr closes all of the cluster's runaway jobs at once, so only when all are ours.
        done = slurm.run("sacctmgr", "-i", "show", "runawayjobs", f"cluster={slurm.cluster}")
        if done.returncode != 0:
            raise OpError(f"sacctmgr: {(done.stdout + done.stderr).strip()}", status=409)
        left = {j["id"] for j in _runaway_list(slurm)}
        fixed = [j["id"] for j in jobs if j["id"] not in left]
    return {"runaway": jobs, "fixed": fixed}


def _slurm_time(epoch: int) -> str:
    # The controller reads times in its local zone; give it its local time.
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_slurm_time(text: str) -> int:
    try:
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timestamp())
    except ValueError:
        return 0


# --- journal ------------------------------------------------------------------------------------


class Journal:
    """Finished operations by op_id (a JSON-lines file, so a restart still answers retries)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.done: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.running: dict[str, threading.Lock] = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                        self.done[entry["op_id"]] = entry["result"]
                    except (ValueError, KeyError):
                        continue
            self._compact()

    def _compact(self) -> None:
        if len(self.done) <= JOURNAL_KEEP or not self.path:
            return
        keep = list(self.done.items())[-JOURNAL_KEEP:]
        self.done = dict(keep)
        tmp = self.path + ".new"
        with open(tmp, "w", encoding="utf-8") as fh:
            for op_id, result in keep:
                fh.write(json.dumps({"op_id": op_id, "result": result}) + "\n")
        os.replace(tmp, self.path)

    def once(self, op_id: str, work) -> tuple[dict, bool]:
        """(result, replayed): runs ``work`` at most once per op_id, even under concurrency."""
        with self.lock:
            if op_id in self.done:
                return self.done[op_id], True
            gate = self.running.setdefault(op_id, threading.Lock())
        with gate:
            with self.lock:
                if op_id in self.done:
                    return self.done[op_id], True
            result = work()
            with self.lock:
                self.done[op_id] = result
                self.running.pop(op_id, None)
                if self.path:
                    with open(self.path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"op_id": op_id, "result": result}) + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                self._compact()
            return result, False


# --- HTTP ---------------------------------------------------------------------------------------


def dispatch(slurm: Slurm, op: str, args: dict) -> dict:
    try:
        if op == "account_limits":
            return slurm.account_limits(
                str(args["account"]),
                int(args["fairshare"]),
                int(args["gpu_minutes"]),
                str(args["parent"]) if args.get("parent") else None,
            )
        if op == "reservation_put":
            return slurm.reservation_put(
                str(args["name"]),
                str(args["nodes"]),
                int(args["start"]),
                int(args["end"]),
                [str(a) for a in args["accounts"]],
            )
        if op == "reservation_delete":
            return slurm.reservation_delete(str(args["name"]))
        if op == "job_release":
            return _job_release(slurm, int(args["job_id"]), str(args["comment"]))
        if op == "runaway_jobs":
            return _runaway_jobs(
                slurm,
                bool(args.get("fix")),
                str(args["name_prefix"]),
                [str(a) for a in args["accounts"]],
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise OpError(f"bad arguments for {op}: {exc!r}") from exc
    raise OpError(f"unknown operation {op!r}")


def make_handler(key: bytes, slurm: Slurm, journal: Journal):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
            log.info("%s %s", self.address_string(), fmt % args)

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authentic(self, body: bytes) -> bool:
            stamp = self.headers.get("X-Park-Agent-Time", "")
            given = self.headers.get("X-Park-Agent-Signature", "")
            try:
                fresh = abs(time.time() - float(stamp)) <= MAX_SKEW
            except ValueError:
                return False
            return fresh and hmac.compare_digest(given, sign(key, stamp, body))

        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/v1/ping":
                self._answer(200, {"ok": True})
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not self._authentic(body):
                self._answer(401, {"error": "bad or stale signature"})
                return
            if self.path != "/v1/op":
                self._answer(404, {"error": "not found"})
                return
            try:
                request = json.loads(body)
                op_id, op, args = str(request["op_id"]), str(request["op"]), request["args"]
                if not op_id or not isinstance(args, dict):
                    raise ValueError("op_id and args are required")
            except (ValueError, KeyError, TypeError) as exc:
                self._answer(400, {"error": f"bad request: {exc}"})
                return
            try:
                result, replayed = journal.once(op_id, lambda: dispatch(slurm, op, args))
            except OpError as exc:
                log.warning("%s %s refused: %s", op, op_id, exc)
                self._answer(exc.status, {"error": str(exc)})
                return
            except subprocess.TimeoutExpired:
                self._answer(503, {"error": "Slurm command timed out"})
                return
            self._answer(200, {"op_id": op_id, "result": result, "replayed": replayed})

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:16821")
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--journal", default=None)
    parser.add_argument("--cluster", required=True)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with open(options.key_file, "rb") as fh:
        key = fh.read().strip()
    if len(key) < 16:
        print("the key file holds fewer than 16 bytes", file=sys.stderr)
        return 2
    host, _, port = options.listen.rpartition(":")
    server = ThreadingHTTPServer(
        (host, int(port)), make_handler(key, Slurm(options.cluster), Journal(options.journal))
    )
    log.info("park agent listening on %s", options.listen)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
