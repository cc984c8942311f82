"""The one shape of the service's errors: ``{"error": CODE, "message": TEXT}``."""

from __future__ import annotations

__all__ = ["ServeError"]


class ServeError(Exception):
    """A request the service refuses, with its HTTP status and a message for the user.

    Parameters
    ----------
    status : int
        The HTTP status (4xx for the request, 503 for overload).
    code : str
        A short stable name clients can test (``"not_an_image"``, ``"too_large"``, ...).
    message : str
        One line that says what was wrong and what to do.
    headers : dict, optional
        Extra response headers (``Retry-After``).
    """

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def __reduce__(self):  # back from a worker process whole
        return (type(self), (self.status, self.code, self.message, self.headers))

    def to_dict(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}
