"""Replay of create requests sent with an ``Idempotency-Key``.

The record is inserted first, inside the same transaction as the work it guards: a concurrent
retry with the same key blocks on the unique index until the first request commits (then it
reads the stored answer) or rolls back (then it does the work itself). A failed business rule
(ParkError) is stored too, so a retry gets the same answer, not a second attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja.responses import NinjaJSONEncoder

from booking.errors import ParkError
from booking.tokens.models import IdempotencyRecord


@dataclass(frozen=True)
class Answer:
    status: int
    body: object
    replayed: bool = False


def request_fingerprint(*, method: str, path: str, payload: object) -> str:
    canonical = json.dumps(
        {"method": method, "path": path, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    user,
    key: str | None,
    fingerprint: str,
    work: Callable[[], Answer],
    on_error: Callable[[ParkError], Answer],
) -> Answer:
    """Run ``work`` once per (user, key); later calls with the same key get the first answer.

    ``work`` returns the success answer (JSON-ready body); a ParkError it raises is turned
    into an answer by ``on_error`` and stored as well. The same key with another request
    (different fingerprint) → ParkError ``idempotency_key_reused`` (422).
    """
    if not key:
        try:
            return work()
        except ParkError as error:
            return on_error(error)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, request_hash=fingerprint
                )
        except IntegrityError:
            record = None
        if record is None:
            existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if existing is None:  # the first attempt rolled back meanwhile: let the client retry
                raise ParkError(
                    "idempotency_conflict",
                    _("Idempotency-Key: a request with this key is still in progress; retry."),
                    field="Idempotency-Key",
                    status=409,
                )
            return _replay(existing, fingerprint)
        try:
            with transaction.atomic():
                answer = work()
        except ParkError as error:
            answer = on_error(error)
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=answer.status, response_body=answer.body
        )
        return answer


def _replay(record: IdempotencyRecord, fingerprint: str) -> Answer:
    if record.request_hash != fingerprint:
        raise ParkError(
            "idempotency_key_reused",
            _("Idempotency-Key: this key was already used with a different request."),
            field="Idempotency-Key",
            status=422,
        )
    if record.status_code is None:
        raise ParkError(
            "idempotency_conflict",
            _("Idempotency-Key: a request with this key is still in progress; retry."),
            field="Idempotency-Key",
            status=409,
        )
    return Answer(status=record.status_code, body=record.response_body, replayed=True)


def answer_response(answer: Answer) -> HttpResponse:
    """The stored (or fresh) answer as sent the first time; its body is already JSON-ready."""
    response = HttpResponse(
        json.dumps(answer.body, cls=NinjaJSONEncoder),
        status=answer.status,
        content_type="application/json; charset=utf-8",
    )
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response
