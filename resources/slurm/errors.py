"""The one error type of the Slurm client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class SlurmError(Exception):
    """A request to slurmrestd failed.

    ``transient`` says the failure is about reaching Slurm (connection refused, timeout, 502/503/504,
    slurmctld unreachable): trying again later may succeed. Otherwise Slurm refused the request and
    will refuse it again (unknown partition, impossible resources, account not allowed, bad token).

    ``ambiguous`` says the request may have been carried out although no answer came back (a read
    timeout after a submit was sent): a caller must look for the job before submitting again.

    ``error_code`` and ``message`` are Slurm's own (e.g. 2014, "Requested node configuration is not
    available") when Slurm answered with one; ``http_status`` is None when no answer came.
    """

    message: str
    error_code: int | None = None
    http_status: int | None = None
    transient: bool = False
    ambiguous: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def refusal(self) -> bool:
        """Slurm understood the request and said no."""
        return not self.transient

    def __str__(self) -> str:
        parts = [self.message]
        if self.error_code is not None:
            parts.append(f"slurm error {self.error_code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.transient:
            parts.append("transient")
        if self.ambiguous:
            parts.append("outcome unknown")
        return " · ".join(parts)
