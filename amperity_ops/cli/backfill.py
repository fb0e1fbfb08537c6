"""``amperity-ops backfill``: load run history into the store, so SLAs and baselines have data."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from amperity_ops.cli._context import CliContext, make_console
from amperity_ops.cli._params import SINCE, resolve_since
from amperity_ops.core.clock import clock_mark
from amperity_ops.core.durations import format_duration
from amperity_ops.services.poll import backfill as backfill_runs

__all__ = ["backfill"]


@click.command()
@click.option(
    "--since",
    type=SINCE,
    default="30d",
    show_default=True,
    help="Load runs created after this: a duration back from now (30d, 12h) or an ISO time.",
)
@click.option("--tenant", "tenant_names", multiple=True, help="Only this tenant (repeatable).")
@click.pass_obj
def backfill(obj: CliContext, since: datetime | timedelta, tenant_names: tuple[str, ...]) -> None:
    """Load the history of workflow runs into the history store, a day at a time.

    Safe to repeat: runs are upserted by id. The learned SLA baseline and the duration
    percentiles on the assets read this history.
    """
    runtime = obj.runtime
    now = runtime.clock()
    since = resolve_since(since, now)
    if since >= now:
        raise click.BadParameter("must be in the past", param_hint="--since")
    days = max(1, math.ceil((now - since).total_seconds() / 86400))
    console = make_console()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days  {task.fields[runs]} runs"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    totals: dict[str, int] = {}
    # How long the backfill took is a real duration: measured on the monotonic clock, never on
    # the runtime's clock (the demo's simulated one runs 10x faster than real time).
    started = time.monotonic()
    with progress, runtime.clients(list(tenant_names) or None) as clients:
        for tenant_name, client in clients.items():
            task = progress.add_task(tenant_name, total=days, runs=0)

            def on_day(stored: int, task_id: TaskID = task) -> None:
                progress.update(task_id, advance=1, runs=stored)

            totals[tenant_name] = backfill_runs(
                client, runtime.store, tenant=tenant_name, since=since, now=now, progress=on_day
            )
            progress.update(task, completed=days, runs=totals[tenant_name])
    took = format_duration(timedelta(seconds=time.monotonic() - started))
    mark = clock_mark(runtime.clock)
    for tenant_name, count in totals.items():
        console.print(f"{tenant_name}: {count} runs since {since:%Y-%m-%d %H:%MZ}{mark} stored "
                      f"(took {took})")
