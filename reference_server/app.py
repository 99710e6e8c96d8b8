"""``create_app(settings)``: the reference server as a Starlette app.

The lifespan builds :class:`Services` (store, LLM client, job queue, loop-lag
monitor, worker pool) on ``app.state.services`` and shuts them down gracefully,
draining background jobs and flushing the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from reference_server.api.errors import EXCEPTION_HANDLERS
from reference_server.api.feedback import feedback
from reference_server.api.routes import ROUTES
from reference_server.cache.install import attach_cache, detach_cache
from reference_server.observability.install import attach_monitoring, install_monitoring
from reference_server.realtime.install import install_realtime, start_realtime, stop_realtime
from reference_server.routing.install import attach_routing
from reference_server.security.install import attach_hardening, install_hardening
from reference_server.services import open_services
from reference_server.settings import ServerSettings, settings_for_profile
from reference_server.storage.base import ChatStore

SETTINGS_ENV = "CHATOPT_SERVER_SETTINGS"


def create_app(settings: ServerSettings | None = None, *, store: ChatStore | None = None) -> Starlette:
    """The app for ``settings`` (baseline when omitted); ``store`` replaces the configured one."""
    settings = settings or settings_for_profile("baseline")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings, store=store)
        app.state.services = services
        attach_hardening(app, services)
        await attach_cache(services)
        attach_routing(services)
        attach_monitoring(app, services)
        await start_realtime(app)
        try:
            yield
        finally:
            await stop_realtime(app)
            await detach_cache(services)
            await services.close()

    routes = [*ROUTES, Route("/api/feedback", feedback, methods=["POST"])]
    app = Starlette(routes=routes, exception_handlers=dict(EXCEPTION_HANDLERS), lifespan=lifespan)
    app.state.settings = settings
    install_hardening(app, settings)
    install_monitoring(app, settings)
    install_realtime(app, settings)
    return app


def app_from_environment() -> Starlette:
    """App factory for multi-worker uvicorn: settings come as JSON in ``CHATOPT_SERVER_SETTINGS``."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = ServerSettings.model_validate(json.loads(raw)) if raw else settings_for_profile("baseline")
    return create_app(settings)
