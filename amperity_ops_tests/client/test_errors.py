"""The error tree: one mapping from status to class, request ids kept, nothing secret shown."""

from __future__ import annotations

import pytest

from amperity_ops.client import errors
from amperity_ops.client.errors import make_status_error


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (429, errors.RateLimitedError),
        (500, errors.ServerError),
        (503, errors.ServerError),
        (418, errors.APIStatusError),
    ],
)
def test_each_status_maps_to_its_class(status: int, cls: type) -> None:
    """Every meaningful status becomes its own subclass of APIStatusError."""
    err = make_status_error(status, b'{"status": 1, "message": "nope", "request_id": "r-1"}')
    assert type(err) is cls
    assert isinstance(err, errors.APIStatusError)
    assert (err.status, err.message, err.request_id) == (status, "nope", "r-1")


def test_request_id_falls_back_to_the_header_and_shows_in_str() -> None:
    """Without a body request_id, the x-request-id header is used; str() shows it."""
    err = make_status_error(500, b"<html>oops</html>", headers={"x-request-id": "abc"},
                            method="GET", path="/workflow/runs")
    assert err.request_id == "abc"
    assert str(err) == "500 server error on GET /workflow/runs (request_id=abc)"


def test_connection_errors_are_apart_from_status_errors() -> None:
    """Timeouts are connection errors; neither is a status error."""
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    assert not issubclass(errors.APIConnectionError, errors.APIStatusError)
    assert issubclass(errors.TokenExpiredError, errors.AuthenticationError)
