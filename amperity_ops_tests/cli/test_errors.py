"""One-line, secret-free error messages for the command line (pure units)."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from amperity_ops.cli._errors import describe_error, describe_error_lines, redact, store_hint
from amperity_ops.client import AuthenticationError, NotFoundError
from amperity_ops.settings import ConfigError

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl"


def test_redact_hides_url_passwords_bearer_tokens_and_jwts() -> None:
    """Passwords inside URLs, bearer tokens and JWT-shaped strings become ***."""
    text = redact(
        f"postgresql+psycopg2://ops:s3cr3t@db:5432/x failed; Authorization: Bearer abc.def {JWT}"
    )
    assert "s3cr3t" not in text
    assert "abc.def" not in text
    assert JWT not in text
    assert "postgresql+psycopg2://ops:***@db:5432/x" in text


def test_redact_hides_values_of_secret_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The value of any *_TOKEN / *_SECRET variable is scrubbed wherever it appears."""
    monkeypatch.setenv("AMPERITY_CLIENT_SECRET", "very-private-value")
    monkeypatch.setenv("AMPERITY_TENANT_ID", "acme-tenant")
    text = redact("sent very-private-value to acme-tenant")
    assert text == "sent *** to acme-tenant"


def test_config_error_keeps_the_first_line_with_file_and_field() -> None:
    """A multi-line ConfigError becomes one line that still names the file and the field."""
    err = ConfigError("p.yaml: policies[0].warn_after: bad duration\np.yaml: alerts[1]: unknown")
    assert (
        describe_error(err) == "configuration error: p.yaml: policies[0].warn_after: bad duration"
    )


def test_api_errors_show_status_and_request_id() -> None:
    """An Amperity status error says it came from the API, with status and request id."""
    err = NotFoundError("not found", status=404, request_id="req-1", method="GET", path="/x")
    assert describe_error(err) == "Amperity API error: 404 not found on GET /x (request_id=req-1)"
    assert describe_error(AuthenticationError("unauthorized", status=401)).startswith(
        "Amperity API error: 401"
    )


def test_store_errors_show_the_driver_message_not_the_sql() -> None:
    """A SQLAlchemy error shows the driver's first line, without statement or link."""
    engine = sa.create_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as caught, engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert describe_error(caught.value) == "history store error: no such table: no_such_table"


def test_connection_and_value_errors_get_their_own_labels() -> None:
    """Transport failures and bad values are labelled so a person knows where to look."""
    assert describe_error(httpx.ConnectError("refused")) == "connection error: refused"
    assert describe_error(ValueError("workflow_id 'a/b' is not a valid id")) == (
        "invalid value: workflow_id 'a/b' is not a valid id"
    )
    assert describe_error(KeyError("x")).startswith("unexpected KeyError")


def test_config_error_lines_keep_every_problem() -> None:
    """describe_error_lines lists each problem of a ConfigError; other errors stay one line."""
    err = ConfigError("p.yaml: policies[0].warn_after: bad\np.yaml: alerts[1]: unknown kind\n")
    assert describe_error_lines(err) == [
        "configuration error: p.yaml: policies[0].warn_after: bad",
        "p.yaml: alerts[1]: unknown kind",
    ]
    assert describe_error_lines(ValueError("a\nb")) == ["invalid value: a"]


def test_store_hint_names_the_store_only_for_database_errors() -> None:
    """A database error gets the store's URL; others, or one already naming it, get nothing."""
    engine = sa.create_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as caught, engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert store_hint(caught.value, "sqlite:///ops.sqlite") == " (history store sqlite:///ops.sqlite)"
    assert store_hint(caught.value, None) == ""
    assert store_hint(ValueError("bad"), "sqlite:///ops.sqlite") == ""
    assert store_hint(RuntimeError("at sqlite:///ops.sqlite"), "sqlite:///ops.sqlite") == ""
