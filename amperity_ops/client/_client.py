"""``AmperityClient``: one method per endpoint, and the one request loop they all go through.

The loop, per attempt: get a token (fetching/refreshing OAuth ones) → wait for a slot in the
tenant's rate budget → send with ``Authorization``, ``amperity-tenant`` and the family's
``api-version`` → log at DEBUG (method, path, status, request id, timing; never credentials) →
surface ``Deprecation``/``Sunset`` once per endpoint → map errors → retry what may be retried.

Stop and start are not idempotent. When their answer is lost (connection dropped, timeout, a
cut body, a 5xx) they are *not* re-sent blindly:

* **stop**: the run is re-read. If it is now stopping or has ended, that is the answer. If it
  is still in a stoppable state, the stop did not take: it is sent again, at most
  ``RetryPolicy.max_unsafe_sends`` (3) sends in all, whatever the storm (429s included), each
  after equal-jitter backoff and a read showing the run still running; then
  :class:`GaveUpError` says what was tried, each answer and the request ids. Anything else
  re-raises the original error.
* **start**: the runs created since shortly before the request are listed. A run that carries
  the same ``config_id`` is the answer. If no run at all was created since, or runs carry
  ``config_id`` and none matches, the start did not take and is sent again (the same bound
  of 3 sends; a 429 or a connection never made is re-sent without listing). Else
  (runs were created but the server does not say from which config; the documented
  ``Workflow`` has no ``config_id``) nobody can tell, so :class:`OutcomeUnknownError` is
  raised, listing those runs for a person to check: starting a workflow twice is worse than
  asking.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from amperity_ops.client._auth import (
    DEFAULT_WARN_WITHIN,
    Auth,
    OAuthClientCredentials,
    StaticTokenAuth,
)
from amperity_ops.client._lenient import EnvelopeError, describe_odd, parse_item, parse_page
from amperity_ops.client._pagination import PageIterator
from amperity_ops.client._params import TimeLike, check_id, format_time, to_utc
from amperity_ops.client._ratelimit import (
    DEFAULT_MARGIN,
    RateLimiter,
    budget_from_url,
)
from amperity_ops.client._retry import (
    DEFAULT_RETRY_POLICY,
    Decision,
    RetryPolicy,
    TransportFailure,
    classify_status,
    classify_transport,
    next_delay,
    next_unsafe_delay,
    parse_retry_after,
)
from amperity_ops.client._settings import DEFAULT_API_VERSIONS, DEFAULT_BASE_URL, ClientSettings
from amperity_ops.client.errors import (
    AmperityError,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    GaveUpError,
    NotFoundError,
    OutcomeUnknownError,
    make_status_error,
)
from amperity_ops.client.models import (
    AuditEvent,
    Campaign,
    CampaignDraft,
    Index,
    IngestJob,
    Page,
    Profile,
    RunMode,
    Segment,
    StateKind,
    WorkflowRun,
    WorkflowRunRequest,
)

__all__ = ["INGEST_WINDOW", "AmperityClient", "ApiDeprecationWarning"]

logger = logging.getLogger("amperity_ops.client")

M = TypeVar("M", bound=BaseModel)

INGEST_WINDOW = timedelta(days=7)
"""The longest ``created_from``..``created_to`` span ``GET /ingest/jobs`` accepts."""

START_LOOKBACK = timedelta(minutes=5)
"""How far before a lost start request runs are searched for it (absorbs clock skew)."""

DEFAULT_TIMEOUT = 30.0


class ApiDeprecationWarning(UserWarning):
    """An endpoint answered with ``Deprecation`` or ``Sunset`` headers."""


_deprecations_seen: set[tuple[str, str]] = set()
_deprecations_lock = threading.Lock()


class _LostAnswer(Exception):
    """Internal: a non-idempotent request may have taken effect; the caller must verify."""

    def __init__(self, error: AmperityError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _NotTaken(_LostAnswer):
    """Internal: a stop/start refused before acting (429, never connected); caller re-sends."""


class _Sends:
    """What one stop or start sent and got back, for its bound and its final error."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.count = 0
        self.answers: list[str] = []
        self.request_ids: list[str] = []

    def note(self, error: AmperityError) -> None:
        """Record the answer to the latest send."""
        self.answers.append(_answer_text(error))
        request_id = getattr(error, "request_id", None)
        if request_id:
            self.request_ids.append(request_id)

    def gave_up(self, outcome: str, last_state: str | None) -> GaveUpError:
        """The one clear error after the last send."""
        return GaveUpError(
            self.operation, answers=self.answers, request_ids=self.request_ids,
            outcome=outcome, last_state=last_state,
        )


def _answer_text(error: AmperityError) -> str:
    if isinstance(error, APIStatusError):
        return f"{error.status} {error.message}{error.ids}"
    return str(error)



@cache
def shared_tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process and shared by every client.

    Building one loads the whole CA bundle (about 0.15 s of CPU): a sensor tick that opens a
    client per tenant would otherwise spend most of its time there. An ``SSLContext`` is safe
    to share between clients and threads.
    """
    return httpx.create_ssl_context()

class AmperityClient:
    """A client for Amperity's control plane and Profile APIs.

    Args:
        tenant_id: The tenant (sent as ``amperity-tenant``).
        base_url: The API root, ending in ``/api`` (default: the AWS host).
        access_token: A static API token. Either this or ``client_id``+``client_secret``.
        client_id: OAuth client-credentials id.
        client_secret: OAuth client-credentials secret.
        token_url: The OAuth token endpoint (default ``{base_url}/v0/oauth2/token``).
        rate_limit_rps: The tenant's request budget per second; ``None`` or ``0`` turns it off.
        rate_limit_backend: ``file`` (host-wide, default), ``file:///dir``, ``memory``,
            ``redis://…`` or ``postgresql://…`` (several hosts).
        rate_limit_margin: Seconds added to the budget's window to absorb the time between
            taking a slot and the request reaching Amperity (raise it over a slow network).
        rate_limiter: A ready limiter (overrides the two settings above; tests, sharing).
        api_versions: Overrides per family: keys ``control_plane``, ``unstable``, ``profile``.
        timeout: Seconds (or an ``httpx.Timeout``) for each HTTP request.
        retry_policy: Attempt and time bounds of retries.
        transport: An ``httpx.BaseTransport`` to send through (e.g. the simulator in-process).
        http_client: A ready ``httpx.Client`` (not closed by this client).
        clock: Returns the current UTC datetime (token expiry, start verification).
        sleep: How to wait between retries and for the budget.
        monotonic: Seconds on a monotonic clock; bounds the total time spent retrying
            (``retry_policy.max_total_seconds``). Inject it with ``sleep`` in tests.
        rng: Jitter source in [0, 1).
        token_warn_within: Warn when a static token expires within this long.
        base_url_source: Where ``base_url`` came from (``"AMPERITY_BASE_URL"``,
            ``"tenants[1].base_url"``); connection errors name it as the thing to fix.
    """

    def __init__(
        self,
        tenant_id: str,
        *,
        base_url: str | None = None,
        access_token: str | SecretStr | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        token_url: str | None = None,
        rate_limit_rps: float | None = 10.0,
        rate_limit_backend: str = "file",
        rate_limit_margin: float = DEFAULT_MARGIN,
        rate_limiter: RateLimiter | None = None,
        api_versions: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        token_warn_within: timedelta = DEFAULT_WARN_WITHIN,
        base_url_source: str = "base_url",
    ) -> None:
        self.tenant_id = check_id(tenant_id, "tenant_id")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        unknown = set(api_versions or {}) - set(DEFAULT_API_VERSIONS)
        if unknown:
            raise ValueError(
                f"api_versions has unknown families {sorted(unknown)}; "
                f"known: {sorted(DEFAULT_API_VERSIONS)}"
            )
        self.api_versions = {**DEFAULT_API_VERSIONS, **(api_versions or {})}
        self._base_url_source = base_url_source
        self._requests_sent = 0
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._rng = rng
        self._monotonic = monotonic
        self._retry = retry_policy
        self._timeout = timeout

        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport, timeout=timeout, verify=shared_tls_context()
        )

        if rate_limiter is not None:
            self._limiter: RateLimiter | None = rate_limiter
        elif rate_limit_rps:
            host = urlsplit(self.base_url).netloc
            budget = budget_from_url(rate_limit_backend, f"{self.tenant_id}@{host}")
            self._limiter = RateLimiter(
                budget, rps=rate_limit_rps, margin=rate_limit_margin, sleep=sleep
            )
        else:
            self._limiter = None

        self._auth: Auth
        if client_id or client_secret:
            if not (client_id and client_secret):
                raise ValueError("OAuth needs both client_id and client_secret")
            self._auth = OAuthClientCredentials(
                client_id=client_id,
                client_secret=client_secret,
                token_url=token_url or f"{self.base_url}/v0/oauth2/token",
                tenant_id=self.tenant_id,
                fetch=self._post_token_form,
                clock=self._clock,
            )
        elif access_token:
            self._auth = StaticTokenAuth(
                access_token, clock=self._clock, warn_within=token_warn_within
            )
        else:
            raise ValueError(
                "no credentials: pass access_token, or client_id and client_secret "
                "(or set AMPERITY_ACCESS_TOKEN / AMPERITY_CLIENT_ID + AMPERITY_CLIENT_SECRET)"
            )

    # ---------------------------------------------------------------------------- lifecycle

    @classmethod
    def from_env(cls, **overrides: Any) -> AmperityClient:
        """Build a client from ``AMPERITY_*`` environment variables.

        Reads ``AMPERITY_TENANT_ID``, ``AMPERITY_BASE_URL``, ``AMPERITY_ACCESS_TOKEN``,
        ``AMPERITY_CLIENT_ID``, ``AMPERITY_CLIENT_SECRET``, ``AMPERITY_TOKEN_URL``,
        ``AMPERITY_RATE_LIMIT_RPS``, ``AMPERITY_RATE_LIMIT_BACKEND``,
        ``AMPERITY_RATE_LIMIT_MARGIN_MS``, ``AMPERITY_TIMEOUT_SECONDS``,
        ``AMPERITY_MAX_ATTEMPTS``, ``AMPERITY_MAX_RETRY_SECONDS`` and
        ``AMPERITY_API_VERSION_{CONTROL_PLANE,UNSTABLE,PROFILE}``
        (:meth:`TenantConnection.from_env <amperity_ops.client.TenantConnection.from_env>`).

        Args:
            **overrides: Keyword arguments of the constructor that win over the environment
                (e.g. ``transport=``).

        Raises:
            pydantic.ValidationError: Naming each missing or invalid variable.
        """
        return ClientSettings.from_env().client(**overrides)

    @classmethod
    def from_settings(cls, settings: ClientSettings, **overrides: Any) -> AmperityClient:
        """Build a client from a validated tenant connection: ``settings.client(**overrides)``."""
        return settings.client(**overrides)

    def close(self) -> None:
        """Close the HTTP connections and the rate budget's resources."""
        if self._owns_http:
            self._http.close()
        if self._limiter is not None:
            self._limiter.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = type(self._auth).__name__
        return (
            f"AmperityClient(tenant_id={self.tenant_id!r}, base_url={self.base_url!r}, "
            f"auth={mode})"
        )

    # ------------------------------------------------------------------------- workflow runs

    def list_workflow_runs(
        self,
        *,
        created_from: TimeLike | None = None,
        created_to: TimeLike | None = None,
        ended_from: TimeLike | None = None,
        ended_to: TimeLike | None = None,
        state: str | StateKind | None = None,
        type: str | None = None,
        limit: int | None = None,
        with_total: bool = False,
        max_items: int | None = None,
    ) -> PageIterator[WorkflowRun]:
        """Iterate workflow runs (``GET /workflow/runs``), newest pages fetched lazily.

        Args:
            created_from: Runs created at or after this time (naive means UTC).
            created_to: Runs created before this time.
            ended_from: Runs that ended at or after this time.
            ended_to: Runs that ended before this time.
            state: A wire state such as ``"running"`` (a ``StateKind`` is sent as its value).
            type: A workflow type such as ``"courier.group/run"``.
            limit: The page size asked of the server (the API's ``limit``).
            with_total: Ask for ``total`` (expensive server-side); read it as ``.total``.
            max_items: Stop after this many runs.

        Returns:
            A lazy iterator of :class:`WorkflowRun`.
        """
        params: dict[str, Any] = {}
        for name, value in (
            ("created_from", created_from),
            ("created_to", created_to),
            ("ended_from", ended_from),
            ("ended_to", ended_to),
        ):
            if value is not None:
                params[name] = format_time(value, name)
        if state is not None:
            params["state"] = state.value if isinstance(state, StateKind) else state
        if type is not None:
            params["type"] = type
        return self._list(
            "/workflow/runs", WorkflowRun, params, limit=limit, with_total=with_total,
            max_items=max_items,
        )

    def get_workflow_run(self, id: str, *, verbose: bool = False) -> WorkflowRun:
        """Fetch one run (``GET /workflow/runs/{id}``).

        Args:
            id: The run id, e.g. ``wf-20240619-14418-6UhqSe``.
            verbose: Include ``task_instances`` (``view=verbose``).

        Raises:
            ValueError: If the id is not safe to put in a URL.
            NotFoundError: If there is no such run.
        """
        run_id = check_id(id, "workflow_id")
        return self._request(
            "GET",
            f"/workflow/runs/{run_id}",
            WorkflowRun,
            endpoint="/workflow/runs/{id}",
            params={"view": "verbose" if verbose else "overview"},
        )

    def stop_workflow_run(self, id: str) -> WorkflowRun:
        """Ask Amperity to stop a run (``POST /workflow/runs/{id}/stop``).

        If the answer is lost, the run is re-read before anything is sent again (see the
        module docstring).

        Args:
            id: The run id.

        Returns:
            The run as the server describes it after the stop (usually ``stopping``).

        Raises:
            ValueError: If the id is not safe to put in a URL.
            BadRequestError: If the run had already finished (Amperity refuses with the 400
                its document lists; a 409 would raise ``ConflictError``). Never retried.
            PermissionDeniedError: If the token may not stop runs (403). Never retried.
            NotFoundError: If there is no such run.
        """
        run_id = check_id(id, "workflow_id")
        path = f"/workflow/runs/{run_id}/stop"
        started = self._monotonic()
        sends = _Sends(f"stop of {run_id} (POST {path})")
        while True:
            try:
                return self._request(
                    "POST", path, WorkflowRun, endpoint="/workflow/runs/{id}/stop",
                    idempotent=False, sends=sends,
                )
            except _LostAnswer as lost:
                # Every re-send (a 429 or a never-made connection too) waits for a read that
                # shows the run still running: it may have been stopped, or ended, meanwhile.
                sends.note(lost.error)
                run = self.get_workflow_run(run_id)
                kind = run.state.kind
                if kind is StateKind.STOPPING or run.state.is_terminal:
                    logger.info(
                        "stop of %s: the answer was lost (%s) but the run is now %r; "
                        "not sending it again", run_id, lost.error, run.state.raw,
                    )
                    return run
                if not run.state.is_stoppable:
                    raise lost.error from None
                delay = next_unsafe_delay(
                    sends.count, self._monotonic() - started, policy=self._retry,
                    retry_after=lost.retry_after, rng=self._rng,
                )
                if delay is None:
                    raise sends.gave_up("failed", run.state.raw) from lost.error
                logger.info(
                    "stop of %s: the stop did not take (%s) and the run is still %r; "
                    "sending it again in %.2fs (send %d)", run_id, lost.error, run.state.raw,
                    delay, sends.count + 1,
                )
                self._sleep(delay)

    def start_workflow(
        self,
        config_id: str,
        *,
        range_from: TimeLike | None = None,
        range_to: TimeLike | None = None,
        run_mode: RunMode | None = None,
    ) -> WorkflowRun:
        """Start a courier group, orchestration group or campaign (``POST /workflow/runs``).

        If the answer is lost, recent runs are searched before anything is sent again (see the
        module docstring).

        Args:
            config_id: The configuration to run, e.g. ``cg-…``.
            range_from: Start of the data range (naive means UTC).
            range_to: End of the data range.
            run_mode: ``"source"``, ``"refresh"`` or ``"full"``.

        Returns:
            The run that was created.

        Raises:
            ValueError: If ``config_id`` is empty or a time is invalid.
            OutcomeUnknownError: If the answer was lost and the runs cannot tell.
        """
        check_id(config_id, "config_id")
        body = WorkflowRunRequest(
            config_id=config_id,
            range_from=None if range_from is None else to_utc(range_from, "range_from"),
            range_to=None if range_to is None else to_utc(range_to, "range_to"),
            run_mode=run_mode,
        ).model_dump(mode="json", exclude_none=True)
        started = self._monotonic()
        sends = _Sends(f"start of {config_id} (POST /workflow/runs)")
        while True:
            sent_at = self._clock()
            try:
                return self._request(
                    "POST", "/workflow/runs", WorkflowRun, endpoint="/workflow/runs",
                    json_body=body, idempotent=False, sends=sends,
                )
            except _NotTaken as refused:
                # Refused before acting (429) or never sent: nothing to verify.
                sends.note(refused.error)
                self._pause_before_resend(sends, started, refused, f"start of {config_id}")
                continue
            except _LostAnswer as lost:
                sends.note(lost.error)
                since = sent_at - START_LOOKBACK
                recent = list(self.list_workflow_runs(created_from=since, max_items=1000))
                says_config = any("config_id" in (run.model_extra or {}) for run in recent)
                if says_config or not recent:
                    matches = [
                        r for r in recent if (r.model_extra or {}).get("config_id") == config_id
                    ]
                    if matches:
                        run = max(matches, key=_created_or_oldest)
                        logger.info(
                            "start of %s: the answer was lost (%s) but run %s was created; "
                            "not sending it again", config_id, lost.error, run.id,
                        )
                        return run
                    self._pause_before_resend(sends, started, lost, f"start of {config_id}")
                    continue
                ids = ", ".join(r.id for r in recent[:20]) or "none"
                raise OutcomeUnknownError(
                    f"start of {config_id}: the answer was lost ({lost.error}) and the server "
                    f"does not say which config a run came from; runs created since "
                    f"{since.isoformat()}: {ids}. Check them before starting it again",
                    method="POST", path="/workflow/runs",
                ) from None

    def _pause_before_resend(
        self, sends: _Sends, started: float, failed: _LostAnswer, what: str
    ) -> None:
        """Sleep before the next send of a start, or raise :class:`GaveUpError`."""
        delay = next_unsafe_delay(
            sends.count, self._monotonic() - started, policy=self._retry,
            retry_after=failed.retry_after, rng=self._rng,
        )
        if delay is None:
            raise sends.gave_up("failed", None) from failed.error
        logger.info(
            "%s: it did not take (%s); sending it again in %.2fs (send %d)",
            what, failed.error, delay, sends.count + 1,
        )
        self._sleep(delay)

    # --------------------------------------------------------------------------- ingest jobs

    def list_ingest_jobs(
        self, *, created_from: TimeLike, created_to: TimeLike | None = None
    ) -> Iterator[IngestJob]:
        """Iterate ingest jobs created in any span, split into the 7-day windows the API allows.

        ``GET /ingest/jobs`` requires both bounds and at most 7 days between them; its
        ``next_token`` is documented as not usable, so each window is one request. A job seen
        at a window's edge is yielded once.

        Args:
            created_from: The start of the span (naive means UTC).
            created_to: The end of the span (default: now).

        Returns:
            A lazy iterator of :class:`IngestJob`, oldest window first.

        Raises:
            ValueError: If the span is empty or reversed.
        """
        start = to_utc(created_from, "created_from")
        end = to_utc(created_to, "created_to") if created_to is not None else self._clock()
        if end <= start:
            raise ValueError(
                f"created_to ({end.isoformat()}) must be after created_from ({start.isoformat()})"
            )
        return self._iter_ingest_windows(start, end)

    def _iter_ingest_windows(self, start: datetime, end: datetime) -> Iterator[IngestJob]:
        previous_ids: set[str] = set()
        window_start = start
        while window_start < end:
            window_end = min(window_start + INGEST_WINDOW, end)
            page = self._request(
                "GET", "/ingest/jobs", Page[IngestJob], endpoint="/ingest/jobs",
                params={
                    "created_from": format_time(window_start, "created_from"),
                    "created_to": format_time(window_end, "created_to"),
                },
            )
            current_ids = set()
            for job in page.data:
                current_ids.add(job.id)
                if job.id not in previous_ids:
                    yield job
            previous_ids = current_ids
            window_start = window_end

    def get_ingest_job(self, id: str) -> IngestJob:
        """Fetch one ingest job with its feeds and files (``GET /ingest/jobs/{id}``).

        Args:
            id: The job id, e.g. ``isj-20240827-54061-2l6XhD``.
        """
        job_id = check_id(id, "job_id")
        return self._request(
            "GET", f"/ingest/jobs/{job_id}", IngestJob, endpoint="/ingest/jobs/{id}"
        )

    # ------------------------------------------------------ segments, campaigns, audit events

    def list_segments(
        self, *, limit: int | None = None, with_total: bool = False, max_items: int | None = None
    ) -> PageIterator[Segment]:
        """Iterate segments (``GET /segments``). See :meth:`list_workflow_runs` for the options."""
        return self._list(
            "/segments", Segment, {}, limit=limit, with_total=with_total, max_items=max_items
        )

    def list_campaigns(
        self,
        *,
        destination_data_template_id: str | None = None,
        limit: int | None = None,
        with_total: bool = False,
        max_items: int | None = None,
    ) -> PageIterator[Campaign]:
        """Iterate campaigns (``GET /campaigns``).

        Args:
            destination_data_template_id: Only campaigns using this template (``ptg-…``).
            limit: Page size. with_total: Ask for ``.total``. max_items: Stop after this many.
        """
        params = _only_set(destination_data_template_id=destination_data_template_id)
        return self._list(
            "/campaigns", Campaign, params, limit=limit, with_total=with_total,
            max_items=max_items,
        )

    def list_campaign_drafts(
        self,
        *,
        destination_data_template_id: str | None = None,
        limit: int | None = None,
        with_total: bool = False,
        max_items: int | None = None,
    ) -> PageIterator[CampaignDraft]:
        """Iterate draft campaigns (``GET /campaign-drafts``, served only under ``unstable``).

        Args:
            destination_data_template_id: Only drafts using this template (``ptg-…``).
            limit: Page size. with_total: Ask for ``.total``. max_items: Stop after this many.
        """
        params = _only_set(destination_data_template_id=destination_data_template_id)
        return self._list(
            "/campaign-drafts", CampaignDraft, params, family="unstable", limit=limit,
            with_total=with_total, max_items=max_items,
        )

    def list_audit_events(
        self,
        *,
        happened_from: TimeLike | None = None,
        happened_to: TimeLike | None = None,
        limit: int | None = None,
        with_total: bool = False,
        max_items: int | None = None,
    ) -> PageIterator[AuditEvent]:
        """Iterate audit events (``GET /audit-events``).

        Args:
            happened_from: Events at or after this time (naive means UTC).
            happened_to: Events before this time.
            limit: Page size. with_total: Ask for ``.total``. max_items: Stop after this many.
        """
        params: dict[str, Any] = {}
        if happened_from is not None:
            params["happened_from"] = format_time(happened_from, "happened_from")
        if happened_to is not None:
            params["happened_to"] = format_time(happened_to, "happened_to")
        return self._list(
            "/audit-events", AuditEvent, params, limit=limit, with_total=with_total,
            max_items=max_items,
        )

    # --------------------------------------------------------------------------- profile API

    def list_indexes(
        self, *, limit: int | None = None, with_total: bool = False, max_items: int | None = None
    ) -> PageIterator[Index]:
        """Iterate profile indexes (``GET /indexes``, Profile API ``2025-07-31``)."""
        return self._list(
            "/indexes", Index, {}, family="profile", limit=limit, with_total=with_total,
            max_items=max_items,
        )

    def get_index(self, id: str) -> Index:
        """Fetch one profile index (``GET /indexes/{id}``).

        Args:
            id: The index id, e.g. ``idx-xyz789``.
        """
        index_id = check_id(id, "index_id")
        return self._request(
            "GET", f"/indexes/{index_id}", Index, endpoint="/indexes/{id}", family="profile"
        )

    def list_profiles(
        self,
        index_id: str,
        *,
        filters: Mapping[str, str] | None = None,
        limit: int | None = None,
        with_total: bool = False,
        max_items: int | None = None,
    ) -> PageIterator[Profile]:
        """Iterate the profiles of an index (``GET /indexes/{id}/profiles``).

        Args:
            index_id: The index id.
            filters: Attribute to value, sent as ``filter[<attr>]=<value>``
                (e.g. ``{"first_name": "Daniel"}``); all must match.
            limit: Page size. with_total: Ask for ``.total``. max_items: Stop after this many.
        """
        idx = check_id(index_id, "index_id")
        params: dict[str, Any] = {}
        for attribute, value in (filters or {}).items():
            if not attribute or any(c in attribute for c in "[]&=#"):
                raise ValueError(f"filters: {attribute!r} is not a valid attribute name")
            params[f"filter[{attribute}]"] = value
        return self._list(
            f"/indexes/{idx}/profiles", Profile, params, family="profile", limit=limit,
            with_total=with_total, max_items=max_items, endpoint="/indexes/{id}/profiles",
        )

    def get_profile(self, index_id: str, profile_id: str) -> Profile:
        """Fetch one profile (``GET /indexes/{index_id}/profiles/{profile_id}``).

        Args:
            index_id: The index id.
            profile_id: The profile id, e.g. ``cl-abc123``.
        """
        idx = check_id(index_id, "index_id")
        pid = check_id(profile_id, "profile_id")
        return self._request(
            "GET", f"/indexes/{idx}/profiles/{pid}", Profile,
            endpoint="/indexes/{id}/profiles/{id}", family="profile",
        )

    # ------------------------------------------------------------------------ the one loop

    def _list(
        self,
        path: str,
        model: type[M],
        params: dict[str, Any],
        *,
        family: str = "control_plane",
        limit: int | None,
        with_total: bool,
        max_items: int | None,
        endpoint: str | None = None,
    ) -> PageIterator[M]:
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        base = dict(params)
        if limit is not None:
            base["limit"] = limit
        if with_total:
            base["with_total"] = "true"
        page_model = Page[model]  # type: ignore[valid-type]

        def fetch(token: str | None) -> Page[M]:
            query = base if token is None else {**base, "next_token": token}
            return self._request(
                "GET", path, page_model, endpoint=endpoint or path, params=query, family=family
            )

        return PageIterator(fetch, what=f"GET {endpoint or path}", max_items=max_items)

    @property
    def requests_sent(self) -> int:
        """API requests this client sent: every attempt, retries and failed ones included.

        Token requests (OAuth) are not counted: they go to the token endpoint.
        """
        return self._requests_sent

    def _request(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        family: str = "control_plane",
        idempotent: bool = True,
        sends: _Sends | None = None,
    ) -> M:
        """Send one logical request, with auth, budget, retries; parse the answer as ``model``.

        A non-idempotent request (``idempotent=False``) is sent once per call (plus once more
        after a 401 refresh, if ``sends`` allows): its caller owns every re-send.

        Raises:
            _LostAnswer: Only when ``idempotent`` is False and the request may have acted.
            _NotTaken: Only when ``idempotent`` is False and it was refused before acting.
        """
        url = self.base_url + path
        version = self.api_versions[family]
        started = self._monotonic()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            token = self._auth.get_token()
            waited = self._limiter.acquire() if self._limiter is not None else 0.0
            headers = {
                "Authorization": f"Bearer {token}",
                "amperity-tenant": self.tenant_id,
                "api-version": version,
                "Accept": "application/json",
            }
            if sends is not None:
                sends.count += 1
            self._requests_sent += 1  # counted before sending: a failed request was sent too
            t0 = time.perf_counter()
            try:
                response = self._http.request(
                    method, url, params=params, json=json_body, headers=headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as err:
                failure, error = _transport_error(
                    err, method, path, self._safe_url(path), self._base_url_source
                )
                logger.debug(
                    "%s %s -> %s after %.1f ms (attempt %d): %s", method, path,
                    type(err).__name__, (time.perf_counter() - t0) * 1000, attempt, error,
                )
                if failure is None:
                    raise error from err
                decision = classify_transport(failure, idempotent=idempotent)
                self._retry_or_raise(
                    decision, error, attempt, started, None, method, path, idempotent
                )
                continue
            elapsed_ms = (time.perf_counter() - t0) * 1000
            status = response.status_code
            self._note_deprecation(method, endpoint, response.headers)

            if status < 400:
                request_id = response.headers.get("x-request-id") or response.headers.get(
                    "request-id"
                )
                logger.debug(
                    "%s %s -> %d in %.1f ms (request_id=%s, attempt %d, budget wait %.3f s)",
                    method, path, status, elapsed_ms, request_id, attempt, waited,
                )
                try:
                    return self._parse(model, response.content, method, path)
                except _CutAnswer:
                    error = APIConnectionError(
                        "the answer was cut short or is not JSON", method=method, path=path,
                        url=self._safe_url(path), setting=self._base_url_source,
                    )
                    decision = Decision.RETRY if idempotent else Decision.VERIFY
                    self._retry_or_raise(
                        decision, error, attempt, started, None, method, path, idempotent
                    )
                    continue

            status_error = make_status_error(
                status, response.content, headers=response.headers, method=method, path=path
            )
            if status == 404 and self._looks_like_wrong_base(endpoint, response.content):
                status_error = NotFoundError(
                    f"{status_error.message} (no Amperity API answers at "
                    f"{self._safe_url(path)}: check {self._base_url_source})",
                    status=404, request_id=status_error.request_id,
                    trace_id=status_error.trace_id, method=method, path=path,
                )
            # The ids come from the error body (Amperity puts them there), not only headers.
            logger.debug(
                "%s %s -> %d in %.1f ms (request_id=%s, trace_id=%s, attempt %d, "
                "budget wait %.3f s): %s",
                method, path, status, elapsed_ms, status_error.request_id,
                status_error.trace_id, attempt, waited, status_error.message,
            )
            if status == 401:
                expired = self._auth.expired_error()
                if expired is not None:
                    raise expired from None
                spent = sends is not None and sends.count >= self._retry.max_unsafe_sends
                if not refreshed and not spent and self._auth.on_unauthorized(token):
                    refreshed = True
                    logger.debug(
                        "%s %s -> 401%s: refreshing the token once", method, path,
                        status_error.ids,
                    )
                    continue
                raise status_error
            if status == 429 and self._limiter is not None:
                self._limiter.note_rate_limited()  # every sharer widens its window a while
            decision = classify_status(status, idempotent=idempotent)
            retry_after = parse_retry_after(
                response.headers.get("retry-after"), now=self._clock()
            )
            self._retry_or_raise(
                decision, status_error, attempt, started, retry_after, method, path, idempotent
            )

    def _parse(self, model: type[M], content: bytes, method: str, path: str) -> M:
        """Parse a 2xx body: the whole answer at once, else item by item (``_lenient.py``).

        Raises:
            _CutAnswer: The body is cut short or not JSON.
            APIResponseValidationError: The envelope is broken (no ``data``), or a single
                record's identity does not fit.
        """
        try:
            return model.model_validate_json(content)
        except ValidationError as err:
            if _is_bad_json(err):
                raise _CutAnswer from None
            whole_page_error = _summarise(err)
        item_model = _page_item_model(model)
        try:
            if item_model is not None:
                page = parse_page(item_model, content)
                if page.odd_records:
                    logger.warning(
                        "%s %s: %d of %d record(s) did not fit %s; kept with what is known "
                        "(%d left out, no usable id): %s", method, path, page.odd_records,
                        len(page.data) + page.dropped_records, item_model.__name__,
                        page.dropped_records, describe_odd(page.data),
                    )
                return page  # type: ignore[return-value]
            item = parse_item(model, json.loads(content))
        except EnvelopeError as err:
            raise APIResponseValidationError(
                f"{method} {path}: the answer is not a {model.__name__}: {err}"
            ) from None
        except ValueError:
            raise _CutAnswer from None
        if item is None:
            raise APIResponseValidationError(
                f"{method} {path}: the answer does not match {model.__name__}: "
                f"{whole_page_error}"
            )
        logger.warning(
            "%s %s: the answer did not fully fit %s; kept with what is known: %s",
            method, path, model.__name__, describe_odd([item]),
        )
        return item

    def _safe_url(self, path: str) -> str:
        """The URL of ``path`` with scheme, host, port and path only (no credentials/query)."""
        return _strip_url(self.base_url + path)

    @staticmethod
    def _looks_like_wrong_base(endpoint: str, content: bytes) -> bool:
        """A 404 on a listing (no id in the path), or one Amperity did not write, means the
        base URL does not point at the API (e.g. ``/api`` missing)."""
        if "{id}" not in endpoint:
            return True
        try:
            body = json.loads(content)
        except ValueError:
            return True
        return not (isinstance(body, dict) and "message" in body)

    def _retry_or_raise(
        self,
        decision: Decision,
        error: AmperityError,
        attempt: int,
        started: float,
        retry_after: float | None,
        method: str,
        path: str,
        idempotent: bool = True,
    ) -> None:
        """Sleep before the next attempt, or raise ``error`` (or ``_LostAnswer`` to verify).

        A stop or start (``idempotent=False``) is never re-sent from here: ``_NotTaken`` hands
        a refusal back to its caller, which re-reads and bounds the sends.
        """
        if decision is Decision.FAIL:
            raise error
        if decision is Decision.VERIFY:
            raise _LostAnswer(error, retry_after)
        if not idempotent:
            raise _NotTaken(error, retry_after)
        delay = next_delay(
            attempt, self._monotonic() - started, policy=self._retry,
            retry_after=retry_after, rng=self._rng,
        )
        if delay is None:
            raise error
        logger.info("%s %s failed (%s); retry %d in %.2f s", method, path, error, attempt, delay)
        self._sleep(delay)

    def _post_token_form(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """POST the OAuth form (budgeted, retried on 429/5xx/connection errors; safe to repeat)."""
        path = urlsplit(url).path
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            if self._limiter is not None:
                self._limiter.acquire()
            try:
                response = self._http.post(url, data=form, headers=headers, timeout=self._timeout)
            except httpx.TransportError as err:
                failure, error = _transport_error(
                    err, "POST", path, _strip_url(url), "token_url"
                )
                if failure is None:
                    raise error from err
                self._retry_or_raise(Decision.RETRY, error, attempt, started, None, "POST", path)
                continue
            if response.status_code >= 400:
                failed = make_status_error(
                    response.status_code, response.content, headers=response.headers,
                    method="POST", path=path,
                )
                logger.debug(
                    "POST %s -> %d (token request; request_id=%s, trace_id=%s)", path,
                    response.status_code, failed.request_id, failed.trace_id,
                )
            else:
                logger.debug("POST %s -> %d (token request)", path, response.status_code)
            if response.status_code < 400 and not _is_json(response.content):
                # A cut or non-JSON 200 (a proxy page) is transient: asking again is safe.
                error = APIConnectionError(
                    "the token answer was cut short or is not JSON", method="POST", path=path
                )
                self._retry_or_raise(Decision.RETRY, error, attempt, started, None, "POST", path)
                continue
            if response.status_code == 429 and self._limiter is not None:
                self._limiter.note_rate_limited()
            if classify_status(response.status_code, idempotent=True) is Decision.RETRY:
                error = make_status_error(
                    response.status_code, response.content, headers=response.headers,
                    method="POST", path=path,
                )
                retry_after = parse_retry_after(
                    response.headers.get("retry-after"), now=self._clock()
                )
                self._retry_or_raise(
                    Decision.RETRY, error, attempt, started, retry_after, "POST", path
                )
                continue
            return response

    def _note_deprecation(self, method: str, endpoint: str, headers: httpx.Headers) -> None:
        deprecation = headers.get("deprecation")
        sunset = headers.get("sunset")
        if deprecation is None and sunset is None:
            return
        key = (method, endpoint)
        with _deprecations_lock:
            if key in _deprecations_seen:
                return
            _deprecations_seen.add(key)
        message = (
            f"Amperity marks {method} {endpoint} as deprecated"
            f"{f' ({deprecation})' if deprecation else ''}"
            f"{f'; sunset {sunset}' if sunset else ''}; plan the move before then"
        )
        logger.warning(message)
        warnings.warn(message, ApiDeprecationWarning, stacklevel=4)


def _transport_error(
    err: httpx.TransportError, method: str, path: str, url: str, setting: str
) -> tuple[TransportFailure | None, AmperityError]:
    """Our error for an httpx transport error, and whether the server can have seen it.

    ``None`` as failure means a local mistake (bad URL scheme): never retried. Errors about
    reaching the server name the URL tried (no credentials, no query) and the setting it
    came from, which is what a person has to fix.
    """
    name = type(err).__name__
    where = {"method": method, "path": path, "url": url, "setting": setting}
    if isinstance(err, httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure.NOT_SENT, APITimeoutError(f"timed out connecting ({name})", **where)
    if isinstance(err, httpx.TimeoutException):
        return TransportFailure.ANSWER_LOST, APITimeoutError(
            f"timed out waiting for the answer ({name})", method=method, path=path
        )
    if isinstance(err, httpx.ConnectError):
        return TransportFailure.NOT_SENT, APIConnectionError(
            f"could not connect ({name}: host unreachable, refused or unknown)", **where
        )
    if isinstance(err, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return None, APIConnectionError(f"cannot send this request ({name})", **where)
    return TransportFailure.ANSWER_LOST, APIConnectionError(
        f"the connection failed before a complete answer ({name})", method=method, path=path
    )


class _CutAnswer(Exception):
    """Internal: a 2xx body that is cut short or not JSON (transient: retried or verified)."""


def _page_item_model(model: type[BaseModel]) -> type[BaseModel] | None:
    """The item model of a ``Page[Item]`` model, else None."""
    if not issubclass(model, Page):
        return None
    args = model.__pydantic_generic_metadata__.get("args") or ()
    item = args[0] if args else None
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _created_or_oldest(run: WorkflowRun) -> datetime:
    """Sort key: the start, with an unknown start sorting first (never picked as newest)."""
    return run.created_at or datetime.min.replace(tzinfo=UTC)


def _strip_url(url: str) -> str:
    """``url`` with scheme, host, port and path only (no credentials, no query)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}{parts.path}"


def _is_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except ValueError:  # includes UnicodeDecodeError
        return False
    return True


def _is_bad_json(err: ValidationError) -> bool:
    return any(e.get("type") == "json_invalid" for e in err.errors(include_url=False))


def _summarise(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg')}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _only_set(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
