"""``amperity-ops simulator``: serve simulated Amperity tenants on a local port.

Prints the base URL and the credentials to use, then serves until Ctrl-C. The credentials
printed are the simulator's own demo credentials (they open nothing real).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from amperity_ops.simulator._clock import SystemClock
from amperity_ops.simulator._faults import Faults
from amperity_ops.simulator._server import bind, serve_forever
from amperity_ops.simulator._simulator import Simulator
from amperity_ops.simulator._tenant import TenantSpec

DEMO_TOKEN = "demo-token"
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"


def _faults(
    *,
    server_errors: int,
    server_error_rate: float,
    rate_limit_storm: int,
    slow: float,
    drop_connections: int,
    truncated_bodies: int,
    lose_answers: int,
    retry_after: int | None,
    expired_tokens: bool,
    repeat_page_token: bool,
) -> Faults:
    try:
        return Faults(
            server_errors=server_errors,
            server_error_rate=server_error_rate,
            rate_limit_storm=rate_limit_storm,
            slow_seconds=slow,
            drop_connections=drop_connections,
            truncated_bodies=truncated_bodies,
            lose_answers=lose_answers,
            retry_after=retry_after,
            expired_tokens=expired_tokens,
            repeat_page_token=repeat_page_token,
        )
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to bind (0 = any free port).")
@click.option("--tenant", "tenants", multiple=True, default=("acme",), show_default=True,
              help="Tenant id to simulate (repeat for several tenants).")
@click.option("--token", default=DEMO_TOKEN, show_default=True,
              help="Static bearer token every tenant accepts.")
@click.option("--client-id", default=DEMO_CLIENT_ID, show_default=True,
              help="OAuth client id for POST /api/v0/oauth2/token.")
@click.option("--client-secret", default=DEMO_CLIENT_SECRET, show_default=True,
              help="OAuth client secret.")
@click.option("--token-lifetime", default=3600, show_default=True, type=click.IntRange(1),
              help="Seconds (simulated) before an OAuth-issued token expires.")
@click.option("--rate-limit", default=10.0, show_default=True, type=click.FloatRange(0),
              help="Requests per second per tenant before 429 (0 = off).")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Simulated seconds per real second (60 = an hour a minute).")
@click.option("--seed", default=7, show_default=True, type=int,
              help="Seed of the simulated world (same seed, same world).")
@click.option("--history-days", default=3.0, show_default=True, type=click.FloatRange(0),
              help="Days of scheduled workflow history at start-up.")
@click.option("--history-runs", default=0, show_default=True, type=click.IntRange(0),
              help="Extra finished runs to bulk-add (scale demos).")
@click.option("--active-runs", default=0, show_default=True, type=click.IntRange(0),
              help="Extra never-ending running runs to bulk-add (scale demos).")
@click.option("--quiet-world", is_flag=True,
              help="No scheduled workflows: runs exist only when started through the API.")
@click.option("--start", "start_at", default=None, type=click.DateTime(
              ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
              help="Simulated time at start-up, UTC (default: now). With --seed it makes the "
                   "world repeatable.")
@click.option("--cancel-type", "cancel_types", multiple=True,
              help="Workflow type whose stop reads canceling/canceled (repeatable).")
@click.option("--read-only-token", default=None,
              help="An extra bearer token that may only read (POSTs answer 403).")
@click.option("--stop-delay", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds a stopped run stays 'stopping' before 'stopped'.")
@click.option("--server-errors", default=0, type=click.IntRange(0),
              help="Fault: answer the next N requests with 500.")
@click.option("--server-error-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Fault: answer this fraction of requests with 500.")
@click.option("--rate-limit-storm", default=0, type=click.IntRange(0),
              help="Fault: answer the next N requests with 429.")
@click.option("--slow", default=0.0, type=click.FloatRange(0),
              help="Fault: delay every answer by this many seconds.")
@click.option("--drop-connections", default=0, type=click.IntRange(0),
              help="Fault: hang up on the next N requests without answering.")
@click.option("--truncated-bodies", default=0, type=click.IntRange(0),
              help="Fault: cut the next N 200 bodies in half.")
@click.option("--lose-answers", default=0, type=click.IntRange(0),
              help="Fault: act on the next N requests, then hang up instead of answering.")
@click.option("--retry-after", default=None, type=click.IntRange(0),
              help="Fault: send Retry-After: S on 429s (real Amperity sends none).")
@click.option("--expired-tokens", is_flag=True, help="Fault: every token is expired (401).")
@click.option("--repeat-page-token", is_flag=True,
              help="Fault: list pages hand back the next_token they were given.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              help="uvicorn's log level.")
def simulator(
    host: str,
    port: int,
    tenants: tuple[str, ...],
    token: str,
    client_id: str,
    client_secret: str,
    token_lifetime: int,
    rate_limit: float,
    speed: float,
    seed: int,
    history_days: float,
    history_runs: int,
    active_runs: int,
    quiet_world: bool,
    start_at: datetime | None,
    cancel_types: tuple[str, ...],
    read_only_token: str | None,
    stop_delay: float,
    server_errors: int,
    server_error_rate: float,
    rate_limit_storm: int,
    slow: float,
    drop_connections: int,
    truncated_bodies: int,
    lose_answers: int,
    retry_after: int | None,
    expired_tokens: bool,
    repeat_page_token: bool,
    log_level: str,
) -> None:
    """Serve simulated Amperity tenants (the API under /api, controls under /_sim)."""

    faults = _faults(server_errors=server_errors, server_error_rate=server_error_rate,
                     rate_limit_storm=rate_limit_storm, slow=slow,
                     drop_connections=drop_connections, truncated_bodies=truncated_bodies,
                     lose_answers=lose_answers, retry_after=retry_after,
                     expired_tokens=expired_tokens, repeat_page_token=repeat_page_token)
    unique = tuple(dict.fromkeys(t.strip() for t in tenants if t.strip()))
    if not unique:
        raise click.BadParameter("give at least one non-empty tenant id", param_hint="--tenant")
    specs = [
        TenantSpec(
            tenant_id=tenant_id,
            static_tokens=(token,),
            client_id=client_id,
            client_secret=client_secret,
            seed=seed + index,
            oauth_expires_in=token_lifetime,
            schedules=not quiet_world,
            history_days=history_days,
            history_runs=history_runs,
            active_runs=active_runs,
            stop_delay=timedelta(seconds=stop_delay),
            cancel_types=cancel_types,
            read_only_tokens=(read_only_token,) if read_only_token else (),
            faults=faults,
        )
        for index, tenant_id in enumerate(unique)
    ]
    start = start_at.replace(tzinfo=UTC) if start_at is not None else None
    sim = Simulator(specs, clock=SystemClock(speed=speed, start=start),
                    rate_limit_rps=rate_limit or None)
    try:
        sock = bind(host, port)
    except OSError as err:
        raise click.ClickException(f"cannot listen on {host}:{port}: {err.strerror}") from None
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown_host}:{bound_port}/api"
    secret_shown = client_secret if client_secret == DEMO_CLIENT_SECRET else "<as given>"
    token_shown = token if token == DEMO_TOKEN else "<as given>"
    click.echo(f"Simulated Amperity API at {base_url}")
    click.echo(f"  tenants:        {', '.join(unique)}")
    click.echo(f"  bearer token:   {token_shown}")
    click.echo(f"  OAuth client:   {client_id} / {secret_shown}  "
               f"(POST {base_url}/v0/oauth2/token)")
    click.echo(f"  rate limit:     {f'{rate_limit:g} rps per tenant' if rate_limit else 'off'};"
               f" speed x{speed:g}; seed {seed}; simulated now {sim.now():%Y-%m-%dT%H:%M:%SZ}")
    if read_only_token:
        shown = "<as given>"
        click.echo(f"  read-only token: {shown} (POSTs answer 403)")
    if not faults.healthy:
        click.echo(f"  faults:         {faults.to_json()}")
    click.echo(f"  controls:       http://{shown_host}:{bound_port}/_sim/health")
    click.echo("Use it with:")
    click.echo(f"  export AMPERITY_BASE_URL={base_url} AMPERITY_TENANT_ID={unique[0]} "
               f"AMPERITY_ACCESS_TOKEN={token_shown}")
    click.echo("Press Ctrl-C to stop.")
    try:
        serve_forever(sim.app, sock, log_level=log_level)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
