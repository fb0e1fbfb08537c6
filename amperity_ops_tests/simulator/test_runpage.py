"""The read-only run page the demo's "Open in Amperity" links point at (/_sim/app/{tenant}/)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from amperity_ops.settings import TenantConfig
from amperity_ops.simulator import IN_PROCESS_BASE_URL, Simulator
from amperity_ops.simulator._runpage import render_run_page

ROOT = IN_PROCESS_BASE_URL.removesuffix("/api")


def _browser(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=ROOT, transport=sim.transport())


def test_run_link_opens_the_page_and_its_run(sim: Simulator) -> None:
    """A run_link built from app_url serves the page, and the page's fetch returns that run."""
    run = sim.tenant("acme").add_run(name="Daily Ecommerce Sources", state="running")
    tenant = TenantConfig(tenant_id="acme", access_token="t", app_url=f"{ROOT}/_sim/app/acme")
    link = tenant.run_link(run.id)
    assert link is not None
    parts = urlsplit(link)
    assert parts.fragment == f"/workflows/{run.id}"
    with _browser(sim) as browser:
        page = browser.get(parts.path)  # a browser never sends the fragment
        fetched = browser.get(f"/_sim/tenants/acme/runs/{run.id}")  # what the page's script asks
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '"/_sim/tenants/" + encodeURIComponent(tenant) + "/runs/"' in page.text
    assert 'const tenant = "acme";' in page.text
    assert fetched.status_code == 200
    body = fetched.json()
    expected = (run.id, "Daily Ecommerce Sources", "running")
    assert (body["id"], body["name"], body["state"]) == expected
    assert "task_instances" in body
    assert sim.request_log("acme").total == 0  # not counted as API use


def test_unknown_run_or_tenant_is_a_clear_404(sim: Simulator) -> None:
    """A typo'd run id or tenant gets a 404 whose message names it."""
    with _browser(sim) as browser:
        no_run = browser.get("/_sim/tenants/acme/runs/wf-typo")
        no_tenant_page = browser.get("/_sim/app/nope/")
    assert no_run.status_code == 404
    assert "wf-typo was not found" in no_run.json()["message"]
    assert no_tenant_page.status_code == 404
    assert "'nope'" in no_tenant_page.json()["message"]


def test_tenant_id_cannot_break_out_of_the_page() -> None:
    """A tenant id with markup is escaped in the HTML and cannot close the inline script."""
    page = render_run_page('x</script><b>"')
    assert "</script><b>" not in page
    assert "x&lt;/script&gt;&lt;b&gt;&quot;" in page
