"""``amperity-ops runs list`` and ``amperity-ops runs stop``: look at runs, stop one safely."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from rich import box
from rich.table import Table
from rich.text import Text

from amperity_ops.cli._context import CliContext, make_console
from amperity_ops.cli._params import SINCE, STATE, STATE_GROUPS, resolve_since
from amperity_ops.cli._render import print_trimmed, short_duration, state_text, when
from amperity_ops.cli._sla import runtime_against_sla, sla_cell
from amperity_ops.client import AmperityClient, AmperityError, StateKind, WorkflowRun
from amperity_ops.core import Requester, StopResult
from amperity_ops.core.clock import clock_label, clock_mark
from amperity_ops.core.wording import data_note
from amperity_ops.services.stop import StopOutcome, stop_with_runtime

__all__ = ["runs"]

DEFAULT_SINCE = timedelta(hours=24)
"""How far back `runs list` looks by default."""
ACTIVE_SINCE = timedelta(days=7)
"""The default when only active states are asked for: a run stuck for days is the one that
matters at 3 a.m., and a week of runs is a few pages at most."""


@click.group()
def runs() -> None:
    """List workflow runs, or stop one."""


@runs.command("list")
@click.option(
    "--state",
    "states",
    type=STATE,
    multiple=True,
    help="Only runs in this state (repeatable); `active` and `ended` group several.",
)
@click.option(
    "--since",
    type=SINCE,
    default=None,
    help="Runs created after this: a duration back from now (90m, 2h, 30d) or an ISO time. "
    "Default 24h; 7d when --state asks only for active states.",
)
@click.option("--tenant", "tenant_names", multiple=True, help="Only this tenant (repeatable).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Show at most this many runs, newest first.",
)
@click.pass_obj
def list_runs(
    obj: CliContext,
    states: tuple[str, ...],
    since: datetime | timedelta | None,
    tenant_names: tuple[str, ...],
    limit: int,
) -> None:
    """Show workflow runs as a table: id, name, type, state, start, runtime and SLA."""
    runtime = obj.runtime
    wanted: frozenset[StateKind] | None = (
        frozenset().union(*(STATE_GROUPS[s.lower()] for s in states)) if states else None
    )
    if since is None:
        only_active = wanted is not None and wanted <= STATE_GROUPS["active"]
        since = ACTIVE_SINCE if only_active else DEFAULT_SINCE
    now = runtime.clock()
    created_from = resolve_since(since, now)
    # The demo's simulated times run ahead of real ones: say so wherever one is printed.
    note = clock_label(runtime.clock, now)
    sim = clock_mark(runtime.clock)
    since_text = f"{created_from:%Y-%m-%d %H:%MZ}{sim}"
    rows: list[tuple[str, WorkflowRun]] = []
    with runtime.clients(list(tenant_names) or None) as clients:
        for tenant_name, client in clients.items():
            for run in client.list_workflow_runs(created_from=created_from):
                if wanted is None or run.state.kind in wanted:
                    rows.append((tenant_name, run))
    rows.sort(key=lambda row: row[1].created_at or now, reverse=True)  # start unknown: on top
    shown = rows[:limit]
    console = make_console()
    if note:
        console.print(f"Clock: {note}.", style="dim")
    if not rows:  # a header over nothing reads like a broken table: just say so
        which = f"{'/'.join(s.lower() for s in states)} " if states else ""
        console.print(f"No {which}runs created since {since_text}.")
        return

    several_tenants = len({name for name, _ in rows}) > 1 or len(runtime.tenants) > 1
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        title=f"Workflow runs created since {since_text}",
        caption=_caption(len(shown), len(rows), limit),
        title_justify="left",
        caption_justify="left",
    )
    if several_tenants:
        table.add_column("tenant", no_wrap=True)
    table.add_column("id", no_wrap=True, style="bold", min_width=24)
    table.add_column("name", overflow="fold", min_width=20)
    table.add_column("type", no_wrap=True, style="dim")
    table.add_column("state", no_wrap=True)
    table.add_column(f"started{sim}", no_wrap=True)
    table.add_column("runtime", no_wrap=True, justify="right")
    table.add_column("SLA", no_wrap=True)
    for tenant_name, run in shown:
        cells: list[str | Text] = [tenant_name] if several_tenants else []
        cells += [
            f"{run.id} !" if run.is_partial else run.id,
            run.name,
            run.type,
            state_text(run.state),
            "start unknown" if run.start_unknown else when(run.created_at),
            short_duration(run.runtime(now)),
            sla_cell(runtime.config, run, now),
        ]
        table.add_row(*cells)
    print_trimmed(console, table)
    odd = [(name, run) for name, run in shown if run.is_partial]
    if odd:  # odd records are kept and shown, never hidden: say what they lack
        console.print(f"! {len(odd)} odd record(s), kept with what is known: " + "; ".join(
            f"{run.id} ({data_note(run, run.problems)})" for _, run in odd[:MAX_ODD_LISTED])
            + (f"; +{len(odd) - MAX_ODD_LISTED} more" if len(odd) > MAX_ODD_LISTED else ""))


MAX_ODD_LISTED = 10
"""Odd records named under the table at most (the ``!`` marks every one)."""


def _caption(shown: int, total: int, limit: int) -> str:
    if total > shown:
        return f"{shown} of {total} runs (newest first; --limit {limit})"
    return f"{total} run{'s' if total != 1 else ''}"


@runs.command("stop")
@click.argument("workflow_id")
@click.option("--reason", required=True, help="Why: recorded in the stop ledger and shown.")
@click.option("--dry-run", is_flag=True, help="Re-read the run and say what would happen.")
@click.option("--tenant", "tenant_name", default=None, help="Tenant name (default: the first).")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Seconds to wait for the run to reach a stopped state.",
)
@click.option(
    "--poll-every",
    "poll_seconds",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    help="Seconds between re-reads while waiting (each is one API request).",
)
@click.pass_obj
def stop_run(
    obj: CliContext,
    workflow_id: str,
    reason: str,
    dry_run: bool,
    tenant_name: str | None,
    wait_seconds: int,
    poll_seconds: float,
) -> None:
    """Stop WORKFLOW_ID if it is in a recognised running state, and wait until it stops.

    The same path as the SLA sensor and the Dagster stop job: the run is re-read first, an
    unknown state is never stopped, and who asked and why are recorded in the history store.
    """
    runtime = obj.runtime
    tenant = runtime.tenant(tenant_name)
    console = make_console()
    with runtime.client(tenant.name) as client:
        outcome = stop_with_runtime(
            runtime,
            client,
            tenant=tenant.name,
            workflow_id=workflow_id,
            reason=reason,
            requester=Requester.from_text(CliContext.requested_by()),
            dry_run=dry_run,
            wait_timeout=timedelta(seconds=wait_seconds),
            poll_interval=timedelta(seconds=poll_seconds),
        )
        standing = _standing(obj, client, outcome) if outcome.result is StopResult.DRY_RUN else None
    if outcome.result is StopResult.NOT_FOUND:  # nothing was read: the sentence says it all
        raise click.ClickException(outcome.message)
    message = f"{outcome.message} ({standing})" if standing else outcome.message
    if outcome.succeeded:
        console.print(Text(message, style=_RESULT_STYLES.get(outcome.result, "")), soft_wrap=True)
    print_trimmed(console, _outcome_table(outcome, standing, clock_mark(runtime.clock)))
    if not outcome.succeeded:
        raise click.ClickException(message)


def _standing(obj: CliContext, client: AmperityClient, outcome: StopOutcome) -> str | None:
    """For a dry run: the run's runtime against its SLA (one more read), or None if unreadable."""
    try:
        run = client.get_workflow_run(outcome.workflow_id)
    except AmperityError:
        return None  # the dry run's own answer stands; this is a nicety
    return runtime_against_sla(obj.runtime.config, run, obj.runtime.clock())


_RESULT_STYLES = {
    StopResult.STOPPED: "bold green",
    StopResult.DRY_RUN: "bold yellow",
    StopResult.NOT_RUNNING: "cyan",
    StopResult.NOT_FOUND: "bold red",
    StopResult.VANISHED: "yellow",
    StopResult.UNKNOWN_STATE: "bold red",
    StopResult.STILL_STOPPING: "bold red",
}


def _outcome_table(outcome: StopOutcome, standing: str | None = None,
                   time_mark: str = "") -> Table:
    """Before/after, timings and the ledger entry of one stop, as a two-column table."""
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    table.add_row("tenant", outcome.tenant)
    table.add_row("workflow", f"{outcome.workflow_id}  {outcome.workflow_name or ''}".rstrip())
    table.add_row("state before", outcome.state_before or "-")
    if standing:
        table.add_row("vs SLA", standing)
    table.add_row("state after", outcome.state_after or "-")
    table.add_row(
        "result", Text(outcome.result.value, style=_RESULT_STYLES.get(outcome.result, ""))
    )
    table.add_row("reason", outcome.reason)
    table.add_row("requested by", outcome.requested_by)
    table.add_row("stop sent",
                  f"{when(outcome.stop_sent_at)}{time_mark}" if outcome.stop_sent_at else "no")
    table.add_row("took", outcome.waited)
    return table
