"""On-call services: routed enqueueing, silences (with PagerDuty acknowledgement), the digest.

Reads the store, calls the pure decisions in :mod:`amperity_ops.monitoring.dispatch`,
:mod:`~amperity_ops.monitoring.windows` and :mod:`~amperity_ops.monitoring.digest`, and
writes what they decided. Delivery stays the outbox's job (at least once, never twice).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from amperity_ops.core import AlertLevel, AlertMessage
from amperity_ops.core.oncall import OutboxEntry, Silence
from amperity_ops.monitoring.digest import (
    DIGEST_WINDOW,
    DigestItem,
    TenantDigest,
    digest_due,
    digest_key,
    digest_message,
)
from amperity_ops.monitoring.dispatch import plan_outbox, stop_holds
from amperity_ops.services.delivery import outbox_sink_ids

if TYPE_CHECKING:
    from amperity_ops.services.runtime import OpsRuntime

__all__ = [
    "MAX_SILENCE",
    "SilenceOutcome",
    "enqueue_routed",
    "list_silences",
    "maybe_enqueue_digest",
    "silence_alerts",
    "stop_holds_for",
    "unsilence",
]

log = logging.getLogger(__name__)

MAX_SILENCE = timedelta(days=7)
"""The longest silence: a forgotten one must not hide a workflow's alerts for ever."""


def enqueue_routed(runtime: OpsRuntime, messages: Sequence[AlertMessage], *, now: datetime) -> int:
    """Queue alerts for the sinks their rules name, silenced or held as decided.

    Returns:
        How many new outbox rows were added.
    """
    if not messages:
        return 0
    store = runtime.store
    resolved = [m.dedup_key for m in messages if m.level is AlertLevel.RESOLVED]
    entries = plan_outbox(
        messages, config=runtime.config, all_sinks=outbox_sink_ids(runtime.config),
        silences=store.active_silences(now), paged=store.paged_sinks(resolved, now=now),
        alerted=store.alerted_sinks(resolved), now=now,
    )
    for entry in entries:
        if entry.note:
            log.info("alert %r for %s: %s", entry.message.title, entry.sink, entry.note)
    return store.enqueue_entries(entries, now=now)


def stop_holds_for(
    runtime: OpsRuntime, tenant: str, runs: Iterable[tuple[str, str]], *, now: datetime,
    silences: Sequence[Silence] | None = None,
) -> dict[str, str]:
    """Runs of this tenant that may not be stopped now (maintenance, ``--hold-stops``), and why.

    ``silences``: the active ones, when the caller read them once for many tenants.
    """
    config = runtime.config
    active = runtime.store.active_silences(now) if silences is None else silences
    held = [s for s in active if s.hold_stops]
    if not config.maintenance_windows and not held:
        return {}
    return stop_holds(tenant=tenant, runs=runs, windows=config.maintenance_windows,
                      silences=held, now=now)


@dataclass(frozen=True)
class SilenceOutcome:
    """What silencing did: the silence, alerts it kept from going out, incidents acknowledged."""

    silence: Silence
    held_back: int
    acknowledged: int


def _check_silence(run_id: str | None, workflow: str | None, duration: timedelta,
                   reason: str) -> None:
    if bool(run_id) == bool(workflow):
        raise ValueError("give a run id or a workflow glob (exactly one of them)")
    if not reason.strip():
        raise ValueError("a reason is required (who is handling it, and why)")
    if duration <= timedelta(0):
        raise ValueError("the duration must be positive, e.g. 2h")
    if duration > MAX_SILENCE:
        raise ValueError("a silence lasts at most 7d; silence again when it ends")


def silence_alerts(
    runtime: OpsRuntime,
    *,
    run_id: str | None = None,
    workflow: str | None = None,
    tenant: str | None = None,
    duration: timedelta,
    reason: str,
    requested_by: str,
    hold_stops: bool = False,
    now: datetime,
) -> SilenceOutcome:
    """Silence a run's (or a workflow glob's) alerts for ``duration``.

    Alerts queued and not yet sent are marked silenced; incidents already paged are
    acknowledged (PagerDuty ``acknowledge``; chat sinks get one line saying who and why).

    Raises:
        ValueError: A bad request (the message is one sentence for a person).
        amperity_ops.settings.UnknownTenantError: ``tenant`` is not in the policy file.
    """
    _check_silence(run_id, workflow, duration, reason)
    tenant_name = runtime.tenant(tenant).name if tenant else None
    store = runtime.store
    silence = store.add_silence(run_id=run_id, workflow=workflow, tenant=tenant_name,
                                reason=reason.strip(), requested_by=requested_by,
                                hold_stops=hold_stops, now=now, until=now + duration)
    names = [t.name for t in runtime.tenants]
    held = store.silence_pending(silence, tenants=names)
    acks: list[OutboxEntry] = []
    for name in ([tenant_name] if tenant_name else names):
        tracks = store.open_alert_tracks(name)
        covered = {run: t for run, t in tracks.items()
                   if silence.covers(name, run, t.workflow_name)}
        keys = {f"amperity-ops:{name}:{run}": (run, t) for run, t in covered.items()}
        for key, sinks in store.delivered_alerts(keys).items():
            run, track = keys[key]
            for sink, level in sinks.items():
                acks.append(OutboxEntry(_ack_message(name, run, track.workflow_name, key,
                                                     AlertLevel(level), silence, now),
                                        sink, now, level_key="acknowledged"))
    added = store.enqueue_entries(acks, now=now) if acks else 0
    log.warning("%s silenced %s until %s: %s", requested_by, silence.subject,
                silence.until.isoformat(), silence.reason)
    return SilenceOutcome(silence, held, added)


def _ack_message(tenant: str, run_id: str, name: str, key: str, level: AlertLevel,
                 silence: Silence, now: datetime) -> AlertMessage:
    title = f"SILENCED: {name or run_id} by {silence.requested_by}: {silence.reason}"
    facts = (("Tenant", tenant), ("Run", run_id), ("Silenced by", silence.requested_by),
             ("Until", f"{silence.until:%Y-%m-%d %H:%M} UTC"), ("Reason", silence.reason),
             ("Stops", "held" if silence.hold_stops else "as the policy says"))
    return AlertMessage(
        tenant=tenant, workflow_id=run_id, workflow_name=name or run_id, level=level,
        title=title, text="\n".join([title, *(f"{a}: {b}" for a, b in facts)]),
        dedup_key=key, raised_at=now, facts=facts, kind="acknowledge",
    )


def unsilence(runtime: OpsRuntime, silence_id: int, *, by: str, now: datetime) -> Silence:
    """Lift a silence now.

    Raises:
        ValueError: No silence has this id.
    """
    lifted = runtime.store.lift_silence(silence_id, by=by, now=now)
    if lifted is None:
        raise ValueError(f"no silence #{silence_id} (see `amperity-ops alerts list`)")
    return lifted


def list_silences(runtime: OpsRuntime, *, now: datetime,
                  recent: timedelta = timedelta(hours=24)) -> list[Silence]:
    """Active silences and those that ended in the last ``recent``, newest first."""
    return runtime.store.silences_since(now - recent)


def maybe_enqueue_digest(runtime: OpsRuntime, *, now: datetime) -> str | None:
    """Queue today's digest once its time has passed, unless it was queued before.

    The check is one indexed look-up per tick; the digest is built at most once a day per
    process that gets there first (the outbox's unique key keeps it once per day and sink).

    Returns:
        The digest's title when queued now, else None.
    """
    digest = runtime.config.digest
    if digest is None:
        return None
    due = digest_due(digest, now)
    if due is None:
        return None
    day, _send_at = due
    store = runtime.store
    if store.outbox_has_key(digest_key(day)):
        return None
    since = now - DIGEST_WINDOW
    recent = store.silences_since(since)
    tenants: list[TenantDigest] = []
    for tenant in runtime.tenants:
        entry = TenantDigest(tenant.name)
        entry.late = [DigestItem(i, n) for i, n in store.late_runs_since(tenant.name, since)]
        entry.failed = [DigestItem(i, n) for i, n in store.failed_runs_since(tenant.name, since)]
        entry.stopped = [DigestItem(i, n)
                         for i, n in store.stopped_runs_since(tenant.name, since)]
        entry.silenced = [DigestItem(s.run_id or "", f"{s.subject} by {s.requested_by}: "
                                                     f"{s.reason}")
                          for s in recent if s.tenant in (None, tenant.name)
                          and s.created_at >= since]
        tenants.append(entry)
    message = digest_message(day, tenants, now=now, since=since,
                             links={t.name: t.run_link for t in runtime.tenants})
    store.enqueue_entries([OutboxEntry(message, sink, now, level_key="digest")
                           for sink in digest.sinks], now=now)
    log.warning("daily digest queued: %s", message.title)
    return message.title


