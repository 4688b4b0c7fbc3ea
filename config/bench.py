"""A constant-answer view: the server's ceiling in benchmarks/bench_api.py.

Mounted only when settings.BENCHMARK is on; it touches neither the database nor the session.
"""

from django.http import HttpRequest, JsonResponse


def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
