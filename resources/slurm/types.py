"""Typed records the client speaks; independent of any slurmrestd API version."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class JobState(enum.StrEnum):
    PENDING = "PENDING"
    CONFIGURING = "CONFIGURING"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    COMPLETING = "COMPLETING"
    REQUEUED = "REQUEUED"
    RESIZING = "RESIZING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        """The job will not run (again): its start, end and exit code are settled."""
        return self in _FINAL

    @classmethod
    def parse(cls, value: str | None) -> JobState:
        # Slurm may append flags ("CANCELLED by 0", "RUNNING+..."): keep the base state.
        base = (value or "").split()[0].split("+")[0].upper() if value else ""
        try:
            return cls(base)
        except ValueError:
            return cls.UNKNOWN


_FINAL = frozenset(
    {
        JobState.COMPLETED,
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
        JobState.OUT_OF_MEMORY,
    }
)


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """What to run and with which resources.

    ``gpus`` GPUs of ``gpu_type`` (any type when None) per node; ``memory_mb`` per node (the
    partition's default per CPU when None); ``begin_time`` holds the job until then (a booked window);
    ``hold`` submits it held until released; ``nodelist`` pins it to nodes (a booked node);
    ``reservation`` runs it in a Slurm reservation (the booking's).
    """

    script: str
    name: str
    working_directory: str
    time_limit_minutes: int
    partition: str | None = None
    account: str | None = None
    gpus: int = 0
    gpu_type: str | None = None
    cpus: int = 1
    memory_mb: int | None = None
    nodes: int = 1
    environment: Mapping[str, str] = field(default_factory=lambda: {"PATH": "/usr/bin:/bin"})
    comment: str = ""
    begin_time: datetime | None = None
    standard_output: str | None = None
    standard_error: str | None = None
    hold: bool = False
    nodelist: str | None = None
    reservation: str | None = None

    def __post_init__(self) -> None:
        if self.time_limit_minutes < 1:
            raise ValueError("time_limit_minutes must be at least 1")
        if self.gpus < 0 or self.cpus < 1 or self.nodes < 1:
            raise ValueError("gpus must be >= 0, cpus and nodes >= 1")
        if self.begin_time is not None and self.begin_time.tzinfo is None:
            raise ValueError("begin_time must be timezone-aware")


@dataclass(frozen=True, kw_only=True)
class JobInfo:
    """A job as Slurm sees it. Times are UTC; ``start_time``/``end_time`` are None until real.

    ``exit_code`` is the script's return code (Slurm reports a raw wait status: 768 means 3),
    ``exit_signal`` the signal that ended it, if any. ``gpus`` counts allocated GPUs (requested
    ones while pending).
    """

    job_id: int
    name: str
    state: JobState
    state_reason: str = ""
    comment: str = ""
    account: str = ""
    partition: str = ""
    user: str = ""
    nodes: str = ""
    gpus: int = 0
    cpus: int = 0
    time_limit_minutes: int | None = None
    submit_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    standard_output: str = ""

    @property
    def gpu_hours(self) -> float:
        """GPUs × elapsed wall-clock hours (0 until the job started)."""
        if self.start_time is None:
            return 0.0
        end = self.end_time
        if end is None:
            return 0.0
        return self.gpus * max(0.0, (end - self.start_time).total_seconds()) / 3600.0


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    name: str
    state: str
    cpus: int
    memory_mb: int
    gpu_type: str | None
    gpu_count: int
    gres: str
    partitions: tuple[str, ...]
    features: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class PartitionInfo:
    name: str
    nodes: tuple[str, ...]
    state: str
    total_cpus: int
    total_nodes: int
    max_time_minutes: int | None
    default_time_minutes: int | None
    is_default: bool = False
    gpus: int = 0


@dataclass(frozen=True, kw_only=True)
class PingInfo:
    hostname: str
    up: bool
    mode: str
    release: str


@dataclass(frozen=True, kw_only=True)
class AccountInfo:
    name: str
    description: str = ""
    organization: str = ""
    parent: str | None = None


@dataclass(frozen=True, kw_only=True)
class AssociationInfo:
    """An association; ``fairshare`` and ``gpu_minutes`` (GrpTRESMins gres/gpu) are None when
    unset (read) or not to be set (create)."""

    account: str
    user: str | None
    cluster: str
    partition: str | None = None
    parent_account: str | None = None
    fairshare: int | None = None
    gpu_minutes: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReservationInfo:
    """A reservation as slurmctld reports it (times UTC)."""

    name: str
    nodes: tuple[str, ...]
    start: datetime
    end: datetime
    accounts: tuple[str, ...]
    flags: tuple[str, ...] = ()
