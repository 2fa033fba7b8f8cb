"""GET /metrics: the Prometheus text format, for the `admin` scope (docs/observability.md).

The counters and histograms are what this process (or, with PROMETHEUS_MULTIPROC_DIR, every
worker) recorded; the webhook deliveries still to make are counted in the store at each
scrape, so any replica answers the same.
"""

from __future__ import annotations

import logging

from fastapi import Request
from starlette.responses import PlainTextResponse, Response

from switchyard.automation import webhook_store
from switchyard.observability.instruments import enable_metrics
from switchyard.server.routes import RouteGroup

log = logging.getLogger("switchyard.server")

routes = RouteGroup(tags=["meta"], order=90)


@routes.get("/metrics", scope="admin", fast=True, summary="Metrics in the Prometheus text format",
            response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format 0.0.4"}})
async def metrics(request: Request) -> Response:
    metrics = enable_metrics()
    extra = []
    automation = getattr(request.app.state, "automation", None)
    if automation is not None and automation.db.is_open:
        try:
            pending = await automation.db.read(webhook_store.pending_count)
        except Exception:  # noqa: BLE001 - a scrape still answers when the store does not
            log.warning("metrics: could not count the pending webhook deliveries", exc_info=True)
        else:
            extra.append(metrics.gauge("switchyard_webhook_deliveries_pending",
                                       "Webhook deliveries recorded and not yet delivered (all replicas)", pending))
    return Response(metrics.exposition(extra), media_type=metrics.CONTENT_TYPE)
