"""``amperity-ops alerts silence|list|unsilence``: quiet a run's alerts while someone handles it.

A silence records alerts but does not send them (PagerDuty incidents already open are
acknowledged), ends on its own, and never keeps the resolve from going out. Stops go on as the
policy says unless ``--hold-stops`` is given.
"""

from __future__ import annotations

import click

from amperity_ops.cli._context import CliContext, make_console
from amperity_ops.core.clock import clock_mark

__all__ = ["alerts"]


@click.group()
def alerts() -> None:
    """Silence alerts about a run or a workflow, list silences, lift one."""


@alerts.command("silence")
@click.argument("run_id", required=False)
@click.option("--workflow", default=None, help='Glob on workflow names, e.g. "Courier Group*".')
@click.option("--for", "duration", required=True, help="How long, e.g. 2h, 90m (at most 7d).")
@click.option("--reason", required=True, help="Who is handling it and why (shown to everyone).")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant (default: all).")
@click.option("--hold-stops", is_flag=True,
              help="Also request no automatic stop of the covered runs while it holds.")
@click.pass_obj
def silence(obj: CliContext, run_id: str | None, workflow: str | None, duration: str,
            reason: str, tenant_name: str | None, hold_stops: bool) -> None:
    """Silence RUN_ID (or every run of --workflow) for --for, with a --reason."""
    from amperity_ops.core.durations import parse_duration
    from amperity_ops.services.oncall import silence_alerts

    runtime = obj.runtime
    outcome = silence_alerts(
        runtime, run_id=run_id, workflow=workflow, tenant=tenant_name,
        duration=parse_duration(duration), reason=reason,
        requested_by=CliContext.requested_by(), hold_stops=hold_stops, now=runtime.clock(),
    )
    s = outcome.silence
    console = make_console()
    said = s.describe(runtime.clock(), clock_mark(runtime.clock))
    console.print(f"silence #{s.id}: {s.subject} {said}", soft_wrap=True)
    console.print(f"  {outcome.held_back} queued alert(s) held back, "
                  f"{outcome.acknowledged} open page(s) acknowledged; resolves still go out",
                  soft_wrap=True)
    if not hold_stops:
        console.print("  stops: unchanged (the policy still stops runs; --hold-stops to hold)",
                      soft_wrap=True)


@alerts.command("list")
@click.pass_obj
def list_(obj: CliContext) -> None:
    """Silences active now or ended in the last 24h: who, what, until when, why."""
    from rich.table import Table

    from amperity_ops.services.oncall import list_silences

    runtime = obj.runtime
    now = runtime.clock()
    found = list_silences(runtime, now=now)
    console = make_console()
    if not found:
        console.print("no silences active or ended in the last 24h")
        return
    table = Table("id", "state", "subject", "by", f"until (UTC){clock_mark(runtime.clock)}",
                  "stops", "reason",
                  box=None, pad_edge=False)
    for s in found:
        state = ("lifted" if s.lifted_at else "expired" if now >= s.until else "active")
        table.add_row(str(s.id), state, s.subject, s.requested_by, f"{s.until:%Y-%m-%d %H:%M}",
                      "held" if s.hold_stops else "policy", s.reason)
    console.print(table)


@alerts.command("unsilence")
@click.argument("silence_id", type=int)
@click.pass_obj
def unsilence(obj: CliContext, silence_id: int) -> None:
    """Lift silence SILENCE_ID now (alerts raised from now on are sent)."""
    from amperity_ops.services.oncall import unsilence as lift

    runtime = obj.runtime
    s = lift(runtime, silence_id, by=CliContext.requested_by(), now=runtime.clock())
    said = s.describe(runtime.clock(), clock_mark(runtime.clock))
    make_console().print(f"silence #{s.id}: {s.subject} {said}", soft_wrap=True)
