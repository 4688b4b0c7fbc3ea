"""The API against a client nobody here wrote: schemathesis generates requests from the app's
own OpenAPI document (valid and invalid ones) and checks that no answer is a 5xx, that every
status code is declared and that every body matches its declared schema.

Runs in-process through WSGI on the test database (SQLite and PostgreSQL in CI), with a valid
token of a seeded tenant; bounded to a few dozen examples per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import make_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_test_transaction():
    # A real WSGI handler closes "old" connections after each request, which would close the
    # test's own transaction; Django's test client suspends this the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(park, in_test_transaction, unreachable_cluster, settings) -> dict:
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    return {"Authorization": f"Bearer {make_token(park.alice, park.acme)}"}


# Loaded from the app itself (no server); requests go through the same WSGI application.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
