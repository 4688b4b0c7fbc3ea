"""One error type for every refused business rule; the UI and the API map it in one place each."""

from __future__ import annotations

from booking.field_labels import labelled


class ParkError(Exception):
    """A request that breaks a rule.

    ``code`` is stable and machine-readable (the API returns it), ``field`` names the input
    at fault (or is empty), ``params`` holds the values the rule names (a limit, a name, a
    time), ``message`` says the rule in plain words (``%(name)s`` placeholders are filled from
    ``params``), ``status`` is the HTTP status the API answers with.
    """

    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str = "",
        status: int | None = None,
        params: dict | None = None,
    ):
        self.params = dict(params or {})
        message = str(message) % self.params if self.params else str(message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        if status is not None:
            self.status = status

    def as_dict(self) -> dict:
        # The message names its field in the reader's language where it leaves its page.
        return {
            "code": self.code,
            "message": labelled(self.field, self.message),
            "field": self.field,
            "params": self.params,
        }


class NotFound(ParkError):
    status = 404

    def __init__(self, what: str = "object", *, field: str = ""):
        super().__init__("not_found", f"No such {what}.", field=field)


class Conflict(ParkError):
    status = 409


class Forbidden(ParkError):
    status = 403


class BookingRefused(ParkError):
    """A request that breaks one or more rules; ``errors`` holds all of them, the first sets
    ``code``/``field``/``status`` so callers that only look at one error still see the main one."""

    def __init__(self, errors: list[ParkError]):
        first = errors[0]
        super().__init__(first.code, first.message, field=first.field, status=first.status)
        self.params = first.params
        self.errors = errors

    def as_dict(self) -> dict:
        data = super().as_dict()
        data["errors"] = [e.as_dict() for e in self.errors]
        return data
