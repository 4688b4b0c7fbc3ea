"""Mapping between the client's typed records and slurmrestd JSON, one class per API version.

Everything that knows what a slurmrestd payload looks like lives here. Adding a version means adding
a mapping class and registering it in ``MAPPINGS``; the client only calls these methods.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Set
from datetime import UTC, datetime
from typing import Any, Protocol

from .hostlist import expand_hostlist
from .types import (
    AccountInfo,
    AssociationInfo,
    JobInfo,
    JobSpec,
    JobState,
    NodeInfo,
    PartitionInfo,
    PingInfo,
    ReservationInfo,
)

Body = dict[str, Any]


class PayloadMapping(Protocol):
    version: str

    def path(self, endpoint: str, **params: object) -> str: ...
    def encode_job(self, spec: JobSpec, *, now: datetime) -> Body: ...
    def decode_submit(self, body: Body) -> int: ...
    def decode_jobs(
        self, body: Body, *, job_ids: Set[int] | None = None, name_prefix: str | None = None
    ) -> list[JobInfo]: ...
    def decode_nodes(self, body: Body) -> list[NodeInfo]: ...
    def decode_partitions(self, body: Body) -> list[PartitionInfo]: ...
    def decode_ping(self, body: Body) -> PingInfo: ...
    def decode_errors(self, body: Body) -> list[Body]: ...
    def encode_accounts(self, accounts: Iterable[AccountInfo]) -> Body: ...
    def decode_accounts(self, body: Body) -> list[AccountInfo]: ...
    def encode_associations(self, associations: Iterable[AssociationInfo]) -> Body: ...
    def decode_associations(self, body: Body) -> list[AssociationInfo]: ...
    def decode_accounting_jobs(self, body: Body) -> list[JobInfo]: ...
    def decode_reservations(self, body: Body) -> list[ReservationInfo]: ...


_GRES_GPU = re.compile(r"gpu(?::([A-Za-z0-9_.-]+))?:(\d+)")
_TRES_GPU = re.compile(r"(?:^|,)gres/gpu=(\d+)")


def _time(epoch: object) -> datetime | None:
    """Slurm's epoch seconds; 0 or missing means "not set"."""
    if not isinstance(epoch, int | float) or epoch <= 0:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _gpus_in_tres(tres: str | None) -> int:
    match = _TRES_GPU.search(tres or "")
    return int(match.group(1)) if match else 0


class V0038:
    """slurmrestd ``v0.0.38`` / ``dbv0.0.38`` (Slurm 22.05, Debian bookworm)."""

    version = "v0.0.38"

    _PATHS = {
        "ping": "/slurm/v0.0.38/ping",
        "submit": "/slurm/v0.0.38/job/submit",
        "job": "/slurm/v0.0.38/job/{job_id}",
        "jobs": "/slurm/v0.0.38/jobs",
        "nodes": "/slurm/v0.0.38/nodes",
        "partitions": "/slurm/v0.0.38/partitions",
        "accounts": "/slurmdb/v0.0.38/accounts",
        "account": "/slurmdb/v0.0.38/account/{name}",
        "associations": "/slurmdb/v0.0.38/associations",
        "association": "/slurmdb/v0.0.38/association",
        "reservations": "/slurm/v0.0.38/reservations",
        "users": "/slurmdb/v0.0.38/users",
        "db_job": "/slurmdb/v0.0.38/job/{job_id}",
        "db_jobs": "/slurmdb/v0.0.38/jobs",
    }

    def path(self, endpoint: str, **params: object) -> str:
        return self._PATHS[endpoint].format(**params)

    # --- jobs ---------------------------------------------------------------------------------

    def encode_job(self, spec: JobSpec, *, now: datetime) -> Body:
        job: Body = {
            "name": spec.name,
            # Without it the job runs in slurmrestd's own directory.
            "current_working_directory": spec.working_directory,
            # Required by v0.0.38, and an object (not a list of KEY=VALUE).
            "environment": dict(spec.environment),
            "time_limit": spec.time_limit_minutes,
            "cpus_per_task": spec.cpus,
            # An int: the documented array form silently gives one node.
            "nodes": spec.nodes,
        }
        if spec.comment:
            job["comment"] = spec.comment
        if spec.partition:
            job["partition"] = spec.partition
        if spec.account:
            job["account"] = spec.account
        if spec.memory_mb is not None:
            job["memory_per_node"] = spec.memory_mb
        if spec.gpus:
            kind = f"gpu:{spec.gpu_type}" if spec.gpu_type else "gpu"
            job["gres"] = f"{kind}:{spec.gpus}"
        if spec.begin_time is not None:
            # A string, relative to now: the controller parses ISO times in its own time zone.
            delay = math.ceil((spec.begin_time - now).total_seconds())
            if delay > 0:
                job["begin_time"] = f"now+{delay}"
        if spec.standard_output:
            job["standard_output"] = spec.standard_output
        if spec.standard_error:
            job["standard_error"] = spec.standard_error
        if spec.hold:
            job["hold"] = True
        if spec.reservation:
            job["reservation"] = spec.reservation
        if spec.nodelist:
            # A string; "required_nodes" is a disabled key in v0.0.38.
            job["nodelist"] = spec.nodelist
        return {"job": job, "script": spec.script}

    def decode_submit(self, body: Body) -> int:
        return int(body["job_id"])

    def decode_jobs(
        self, body: Body, *, job_ids: Set[int] | None = None, name_prefix: str | None = None
    ) -> list[JobInfo]:
        """The jobs of a job-table answer; with ``job_ids`` / ``name_prefix``, only those: the
        others (most of a busy cluster's table) are skipped before decoding."""
        jobs = body.get("jobs") or []
        if job_ids is not None:
            jobs = [j for j in jobs if int(j["job_id"]) in job_ids]
        if name_prefix is not None:
            jobs = [j for j in jobs if str(j.get("name") or "").startswith(name_prefix)]
        return [self._decode_job(j) for j in jobs]

    def _decode_job(self, j: Body) -> JobInfo:
        state = JobState.parse(j.get("job_state"))
        started = state not in (JobState.PENDING, JobState.UNKNOWN)
        raw_exit = _int(j.get("exit_code"))
        exit_code = exit_signal = None
        if state.is_final and raw_exit is not None:
            # A raw wait status: high byte the return code, low 7 bits the signal.
            exit_code, exit_signal = (raw_exit >> 8) & 0xFF, (raw_exit & 0x7F) or None
        start = _time(j.get("start_time")) if started else None
        return JobInfo(
            job_id=int(j["job_id"]),
            name=j.get("name") or "",
            state=state,
            state_reason=_reason(j.get("state_reason")),
            comment=j.get("comment") or "",
            account=j.get("account") or "",
            partition=j.get("partition") or "",
            user=j.get("user_name") or "",
            nodes=j.get("nodes") or "",
            gpus=_gpus_in_tres(j.get("tres_alloc_str")) or _gpus_in_tres(j.get("tres_req_str")),
            cpus=_int(j.get("cpus")) or 0,
            time_limit_minutes=_int(j.get("time_limit")),
            submit_time=_time(j.get("submit_time")),
            # Slurm fills start/end with estimates while pending/running: keep only real ones.
            start_time=start,
            end_time=_time(j.get("end_time")) if state.is_final else None,
            exit_code=exit_code,
            exit_signal=exit_signal,
            standard_output=j.get("standard_output") or "",
        )

    def decode_accounting_jobs(self, body: Body) -> list[JobInfo]:
        return [self._decode_db_job(j) for j in body.get("jobs") or []]

    def _decode_db_job(self, j: Body) -> JobInfo:
        state = JobState.parse((j.get("state") or {}).get("current"))
        times = j.get("time") or {}
        exit_code, exit_signal = _db_exit(j.get("exit_code"))
        if state.is_final and not exit_code:
            for step in j.get("steps") or []:
                code, sig = _db_exit(step.get("exit_code"))
                if code or sig:
                    exit_code, exit_signal = code, sig
                    break
            if state is JobState.FAILED and not exit_code and not exit_signal:
                # dbv0.0.38 of Slurm 22.05 reports SUCCESS/0 for jobs that exited non-zero
                # (sacct shows the right code): say "unknown" rather than a wrong 0.
                exit_code = None
        gpus = 0
        for tres in ((j.get("tres") or {}).get("allocated")) or []:
            if tres.get("type") == "gres" and tres.get("name") == "gpu":
                gpus = int(tres.get("count") or 0)
        comment = (j.get("comment") or {}).get("job") or ""
        return JobInfo(
            job_id=int(j["job_id"]),
            name=j.get("name") or "",
            state=state,
            state_reason=_reason((j.get("state") or {}).get("reason")),
            comment=comment,
            account=j.get("account") or "",
            partition=j.get("partition") or "",
            user=j.get("user") or "",
            nodes=j.get("nodes") or "",
            gpus=gpus,
            cpus=_int((j.get("required") or {}).get("CPUs")) or 0,
            time_limit_minutes=_int(times.get("limit")),
            submit_time=_time(times.get("submission")),
            start_time=_time(times.get("start")),
            end_time=_time(times.get("end")) if state.is_final else None,
            exit_code=exit_code if state.is_final else None,
            exit_signal=exit_signal if state.is_final else None,
        )

    # --- cluster ------------------------------------------------------------------------------

    def decode_nodes(self, body: Body) -> list[NodeInfo]:
        nodes = []
        for n in body.get("nodes") or []:
            gres = n.get("gres") or ""
            gpu_type, gpu_count = None, 0
            for match in _GRES_GPU.finditer(gres):
                gpu_type = gpu_type or match.group(1)
                gpu_count += int(match.group(2))
            nodes.append(
                NodeInfo(
                    name=n["name"],
                    state=(n.get("state") or "").lower(),
                    cpus=_int(n.get("cpus")) or 0,
                    memory_mb=_int(n.get("real_memory")) or 0,
                    gpu_type=gpu_type,
                    gpu_count=gpu_count,
                    gres=gres,
                    partitions=tuple(n.get("partitions") or ()),
                    features=tuple(f for f in (n.get("features") or "").split(",") if f),
                    reason=n.get("reason") or "",
                )
            )
        return nodes

    def decode_partitions(self, body: Body) -> list[PartitionInfo]:
        parts = []
        for p in body.get("partitions") or []:
            max_time = _int(p.get("max_time_limit"))
            default_time = _int(p.get("default_time_limit"))
            parts.append(
                PartitionInfo(
                    name=p["name"],
                    nodes=tuple(expand_hostlist(p.get("nodes") or "")),
                    state=(p.get("state") or "").upper(),
                    total_cpus=_int(p.get("total_cpus")) or 0,
                    total_nodes=_int(p.get("total_nodes")) or 0,
                    # Slurm's "infinite" comes as a huge or negative number.
                    max_time_minutes=max_time if max_time and 0 < max_time < 2**31 - 1 else None,
                    default_time_minutes=default_time
                    if default_time and 0 < default_time < 2**31 - 1
                    else None,
                    is_default="default" in [f.lower() for f in p.get("flags") or []],
                    gpus=_gpus_in_tres(p.get("tres")),
                )
            )
        return parts

    def decode_ping(self, body: Body) -> PingInfo:
        pings = body.get("pings") or [{}]
        first = pings[0]
        release = ((body.get("meta") or {}).get("Slurm") or {}).get("release") or ""
        return PingInfo(
            hostname=first.get("hostname") or "",
            up=first.get("ping") == "UP",
            mode=first.get("mode") or "",
            release=release,
        )

    def decode_errors(self, body: Body) -> list[Body]:
        errors = []
        for e in body.get("errors") or []:
            if not isinstance(e, Mapping):
                continue
            code = e.get("error_code", e.get("error_number"))
            errors.append(
                {
                    "error_code": _int(code),
                    "error": e.get("error") or "",
                    "description": e.get("description") or "",
                    "source": e.get("source") or "",
                }
            )
        return errors

    # --- accounting (slurmdbd) ----------------------------------------------------------------

    def encode_accounts(self, accounts: Iterable[AccountInfo]) -> Body:
        out = []
        for a in accounts:
            item: Body = {
                "name": a.name,
                "description": a.description or a.name,
                "organization": a.organization or a.name,
            }
            if a.parent:
                item["parent_account"] = a.parent
            out.append(item)
        return {"accounts": out}

    def decode_accounts(self, body: Body) -> list[AccountInfo]:
        return [
            AccountInfo(
                name=a["name"],
                description=a.get("description") or "",
                organization=a.get("organization") or "",
                parent=None,
            )
            for a in body.get("accounts") or []
        ]

    def encode_associations(self, associations: Iterable[AssociationInfo]) -> Body:
        out = []
        for a in associations:
            item: Body = {"account": a.account, "cluster": a.cluster, "user": a.user}
            if a.partition:
                item["partition"] = a.partition
            if a.parent_account:
                item["parent_account"] = a.parent_account
            # Limits are taken only when the association is created: slurmrestd 22.05 answers
            # 200 and keeps the old values for an association that exists.
            if a.fairshare is not None:
                item["shares_raw"] = a.fairshare
            if a.gpu_minutes is not None and a.gpu_minutes >= 0:
                gpu = {"type": "gres", "name": "gpu", "count": a.gpu_minutes}
                item["max"] = {"tres": {"group": {"minutes": [gpu]}}}
            out.append(item)
        return {"associations": out}

    def decode_associations(self, body: Body) -> list[AssociationInfo]:
        return [
            AssociationInfo(
                account=a.get("account") or "",
                user=a.get("user") or None,
                cluster=a.get("cluster") or "",
                partition=a.get("partition") or None,
                parent_account=a.get("parent_account") or None,
                fairshare=_int(a.get("shares_raw")),
                gpu_minutes=_gpu_group_minutes(a),
            )
            for a in body.get("associations") or []
        ]

    def decode_reservations(self, body: Body) -> list[ReservationInfo]:
        out = []
        for r in body.get("reservations") or []:
            start, end = _time(r.get("start_time")), _time(r.get("end_time"))
            if start is None or end is None:
                continue
            out.append(
                ReservationInfo(
                    name=r.get("name") or "",
                    nodes=tuple(expand_hostlist(r.get("node_list") or "")),
                    start=start,
                    end=end,
                    accounts=tuple(a for a in (r.get("accounts") or "").split(",") if a),
                    flags=tuple(r.get("flags") or ()),
                )
            )
        return out


def _gpu_group_minutes(association: Body) -> int | None:
    limits = (((association.get("max") or {}).get("tres") or {}).get("group") or {}).get("minutes")
    for tres in limits or []:
        if tres.get("type") == "gres" and tres.get("name") == "gpu":
            return _int(tres.get("count"))
    return None


def _reason(value: object) -> str:
    text = str(value or "")
    return "" if text == "None" else text


def _db_exit(value: object) -> tuple[int | None, int | None]:
    if not isinstance(value, Mapping):
        return None, None
    code = _int(value.get("return_code"))
    signal = value.get("signal") or {}
    sig = _int(signal.get("signal_id")) if isinstance(signal, Mapping) else None
    return code, sig


MAPPINGS: dict[str, PayloadMapping] = {V0038.version: V0038()}


def mapping_for(version: str) -> PayloadMapping:
    try:
        return MAPPINGS[version]
    except KeyError:
        known = ", ".join(sorted(MAPPINGS))
        raise ValueError(
            f"slurmrestd API version {version!r} is not supported (known: {known})"
        ) from None
