"""Wire the realtime transports into the reference server when the ``websocket`` switch is on.

``install_realtime`` (at app creation) adds ``/ws`` and the ``/api/realtime/...`` routes;
``start_realtime`` / ``stop_realtime`` run in the lifespan, after the services exist and
before they close. Answers go through the app's own chat pipeline.
"""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from reference_server.realtime.pipeline import pipeline_runner
from reference_server.realtime.service import Realtime
from reference_server.settings import ServerSettings

#: Young collections every 50,000 net allocations instead of 700: a frame's objects are
#: gone long before that, so far fewer survive into the old generations whose collection
#: walks every connection's objects at once.
GC_THRESHOLDS = (50_000, 20, 10)


def install_realtime(app: Starlette, settings: ServerSettings) -> None:
    """Add the realtime routes (``websocket`` switch on); the service lives on ``app.state.realtime``."""
    if not settings.websocket:
        return
    realtime = Realtime(settings, pipeline_runner(lambda: app.state.services))
    app.state.realtime = realtime
    app.router.routes.extend(realtime.routes())


async def start_realtime(app: Starlette) -> None:
    """Start the heartbeat and the Redis fan-out; report open connections as a metric when monitored.

    Everything built at startup (modules, models, services) lives as long as the process,
    so it is moved out of the garbage collector's sight (``gc.freeze``): otherwise every
    full collection walks it again while it blocks the event loop, for every connection
    at once (benchmarks/ws_connections.py reports the collector's pauses).
    """
    realtime: Realtime | None = getattr(app.state, "realtime", None)
    if realtime is None:
        return
    app.state.gc_thresholds_before_realtime = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    await realtime.start()
    metrics = getattr(app.state, "metrics", None)
    if metrics is not None:
        metrics.websocket_connections.set_function(lambda: len(realtime.registry))


async def stop_realtime(app: Starlette) -> None:
    """End every answer still being produced, release Redis, and give the collector back its settings."""
    realtime: Realtime | None = getattr(app.state, "realtime", None)
    if realtime is None:
        return
    await realtime.stop()
    gc.set_threshold(*app.state.gc_thresholds_before_realtime)
    gc.unfreeze()
