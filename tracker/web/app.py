"""The web app: feeds, unsubscribe links, redlines and a small dashboard.

Each area has its own router module (routes_*.py); the full review app grows
by adding routers here.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tracker.config import Config
from tracker.web import routes_documents, routes_feeds, routes_subscriptions
from tracker.web.render import TEMPLATES

STATIC = TEMPLATES.parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Feed and unsubscribe URLs carry secret tokens: never hand them to other sites.
    "Referrer-Policy": "no-referrer",
}


def create_app(config: Config, engine: Engine) -> FastAPI:
    app = FastAPI(title="Rulewatch", version="0.1.0")
    app.state.config = config
    app.state.engine = engine

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    app.include_router(routes_documents.router)
    app.include_router(routes_feeds.router)
    app.include_router(routes_subscriptions.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(config: Config, engine: Engine) -> None:
    """Run the web app on [web] host and port until interrupted."""
    import uvicorn

    uvicorn.run(create_app(config, engine), host=config.web.host, port=config.web.port, log_level="info")
