"""Client of the park agent (resources/slurm/agent.py): signed, retried, exactly once per op_id."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .agent import sign
from .errors import SlurmError


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    url: str
    key_file: str
    timeout: float = 30.0
    retries: int = 3


class AgentClient:
    """Runs agent operations. A lost reply is retried with the same op_id, so the agent runs the
    operation once and answers the retry from its journal."""

    def __init__(self, config: AgentConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        self._key = Path(config.key_file).read_bytes().strip()
        self._http = httpx.Client(
            base_url=config.url.rstrip("/"), timeout=config.timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def op(self, op: str, args: dict[str, Any], *, op_id: str | None = None) -> dict[str, Any]:
        body = json.dumps({"op_id": op_id or uuid.uuid4().hex, "op": op, "args": args}).encode()
        attempt = 0
        while True:
            stamp = f"{time.time():.3f}"
            headers = {
                "Content-Type": "application/json",
                "X-Park-Agent-Time": stamp,
                "X-Park-Agent-Signature": sign(self._key, stamp, body),
            }
            try:
                response = self._http.post("/v1/op", content=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt >= self.config.retries:
                    raise SlurmError(f"park agent unreachable: {exc!r}", transient=True) from exc
                attempt += 1
                time.sleep(0.2 * 2**attempt)
                continue
            try:
                answer = response.json()
            except ValueError:
                answer = {"error": response.text[:200]}
            if response.status_code == 200:
                return answer.get("result") or {}
            if response.status_code == 503 and attempt < self.config.retries:
                attempt += 1
                time.sleep(0.2 * 2**attempt)
                continue
            raise SlurmError(
                f"park agent: {answer.get('error') or response.status_code}",
                http_status=response.status_code,
                transient=response.status_code == 503,
            )

    def account_limits(
        self, *, account: str, fairshare: int, gpu_minutes: int, parent: str | None = None
    ) -> dict:
        args = {"account": account, "fairshare": fairshare, "gpu_minutes": gpu_minutes}
        if parent:
            args["parent"] = parent
        return self.op("account_limits", args)

    def reservation_put(
        self, *, name: str, nodes: str, start: int, end: int, accounts: list[str]
    ) -> dict:
        args = {"name": name, "nodes": nodes, "start": start, "end": end, "accounts": accounts}
        return self.op("reservation_put", args)

    def job_release(self, *, job_id: int, comment: str) -> dict:
        return self.op("job_release", {"job_id": job_id, "comment": comment})

    def reservation_delete(self, *, name: str) -> dict:
        return self.op("reservation_delete", {"name": name})

    def runaway_jobs(self, *, name_prefix: str, accounts: list[str], fix: bool = False) -> dict:
        """Jobs accounting records as live that the controller forgot; with ``fix``, closed
        (only when every one is the park's: see the agent)."""
        args = {"name_prefix": name_prefix, "accounts": accounts, "fix": fix}
        return self.op("runaway_jobs", args)


def agent_from_settings() -> AgentClient | None:
    """The agent configured in settings (SLURM_AGENT_URL, SLURM_AGENT_KEY_FILE), or None."""
    from django.conf import settings

    url = getattr(settings, "SLURM_AGENT_URL", None)
    key = getattr(settings, "SLURM_AGENT_KEY_FILE", None)
    if not url or not key:
        return None
    return AgentClient(AgentConfig(url=url, key_file=key))
