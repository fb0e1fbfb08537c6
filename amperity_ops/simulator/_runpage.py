"""A read-only stand-in for the Amperity app's run page: ``/_sim/app/{tenant}/#/workflows/<id>``.

amperity-ops links every run to ``{app_url}/#/workflows/{id}`` (``TenantConfig.run_link``).
In the demo ``AMPERITY_APP_URL`` points here, so the links in Dagster's tables and in alerts
open something, the way they do in production. The page is static HTML; a few lines of inline
JavaScript read the run id from the URL fragment (which browsers never send to the server) and
fetch the run from the unauthenticated control endpoint ``/_sim/tenants/{tenant}/runs/{id}``.
No credential is involved and nothing can be changed from the page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from amperity_ops.simulator._http import error_response

if TYPE_CHECKING:
    from amperity_ops.simulator._simulator import Simulator

__all__ = ["RUN_PAGE_PATH", "run_page_endpoint"]

RUN_PAGE_PATH = "/_sim/app/{tenant}/"
"""Where the page is served; ``AMPERITY_APP_URL`` is this path with the tenant filled in."""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Workflow run (Amperity simulator)</title>
<style>
 body {{ font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
 h1 {{ font-size: 1.4rem; }} .note {{ color: #777; font-size: .85rem; }}
 table {{ border-collapse: collapse; }} td, th {{ padding: .2rem 1rem .2rem 0; text-align: left;
 vertical-align: top; }} th {{ color: #555; font-weight: 600; }} code {{ font-size: .9rem; }}
 .running, .stopping {{ color: #0a6; }} .failed {{ color: #c00; }} .stopped {{ color: #a0a; }}
</style>
</head>
<body>
<p class="note">Amperity simulator, tenant <code>{tenant}</code>: a read-only stand-in for the
Amperity app's run page.</p>
<h1 id="title">Workflow run</h1>
<div id="run">Open <code>#/workflows/&lt;workflow id&gt;</code> on this page.</div>
<script>
const tenant = {tenant_json};
const box = document.getElementById("run");
function cell(text) {{ const td = document.createElement("td"); td.textContent = text; return td; }}
function row(table, name, value) {{
  const tr = document.createElement("tr"); const th = document.createElement("th");
  th.textContent = name; tr.append(th, cell(value)); table.append(tr); return tr;
}}
async function show() {{
  const match = location.hash.match(/^#\\/workflows\\/([^/?]+)/);
  if (!match) return;
  const id = decodeURIComponent(match[1]);
  document.getElementById("title").textContent = id;
  const url = "/_sim/tenants/" + encodeURIComponent(tenant) + "/runs/" + encodeURIComponent(id);
  const answer = await fetch(url);
  const body = await answer.json();
  box.textContent = "";
  if (!answer.ok) {{ box.textContent = body.message || ("HTTP " + answer.status); return; }}
  document.getElementById("title").textContent = body.name + " (" + id + ")";
  const table = document.createElement("table");
  row(table, "state", body.state).className = body.state.replace(/ /g, "-");
  const keys = ["type", "created_at", "ended_at", "principal_name", "warn_after_ms", "error"];
  for (const key of keys) {{
    if (body[key] != null) row(table, key.replace(/_/g, " "), String(body[key]));
  }}
  for (const task of body.task_instances || []) row(table, "task " + task.label, task.state);
  box.append(table);
}}
window.addEventListener("hashchange", show);
show().catch((err) => {{ box.textContent = "could not load the run: " + err; }});
</script>
</body>
</html>
"""


def render_run_page(tenant_id: str) -> str:
    """The page's HTML for ``tenant_id`` (escaped for HTML and for the inline script)."""
    # json.dumps + escaping "<" keeps a tenant id from closing the <script> element.
    tenant_json = json.dumps(tenant_id).replace("<", "\\u003c")
    return _PAGE.format(tenant=html.escape(tenant_id), tenant_json=tenant_json)


def run_page_endpoint(sim: Simulator) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint serving the page for a known tenant (404 for an unknown one)."""

    async def endpoint(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        if sim.runtime_or_none(tenant_id) is None:
            return error_response(
                404, f"no tenant {tenant_id!r}; tenants: {', '.join(sim.tenant_ids)}", None
            )
        return HTMLResponse(render_run_page(tenant_id))

    return endpoint
