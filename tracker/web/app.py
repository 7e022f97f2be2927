"""The web app: dashboard, documents and redlines, changes, search, feeds, subscriptions, the review
desk (sign-in, the review queue, the audit log), admin, JSON API.

Each area has its own router module (routes_*.py). Pages are rendered on the
server and work without JavaScript; every response gets the security headers,
and the API docs page its own policy (see tracker.web.security).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from storage.db import utcnow
from storage.repository import channel_delivery_problems, node_jobs_state
from tracker.heartbeat import last_heartbeat, scheduler_state
from tracker.redline.style import STYLESHEET_NAME, stylesheet
from tracker.settings import Config
from tracker.web import (
    routes_accounts,
    routes_admin,
    routes_api,
    routes_changes,
    routes_documents,
    routes_expectations,
    routes_feeds,
    routes_review,
    routes_search,
    routes_subscriptions,
)
from tracker.web.auth import gate, is_untouched
from tracker.web.common import message
from tracker.web.limits import BodyLimit
from tracker.web.render import TEMPLATES
from tracker.web.security import SECURITY_HEADERS, docs_csp

STATIC = TEMPLATES.parent / "static"
DOCS_ASSETS = "/docs/assets"  # Swagger UI's script, styles and icon, as the fastapi-offline package ships them
HEADINGS = {
    400: "Bad request",
    401: "Sign in first",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    415: "Unsupported form",
    429: "Too many attempts",
}


def create_app(config: Config, engine: Engine) -> FastAPI:
    # The docs page is served below with its own Content-Security-Policy; its assets from DOCS_ASSETS.
    app = FastAPIOffline(title="Rulewatch", version="0.1.0", docs_url=None, redoc_url=None, static_url=DOCS_ASSETS)
    app.state.config = config
    app.state.engine = engine

    # Added first, so it runs inside the other middleware: its refusals get the security headers.
    @app.middleware("http")
    async def sign_in_gate(request: Request, call_next):
        if not is_untouched(request.url.path):
            refusal = await run_in_threadpool(gate, request)
            if refusal is not None:
                return refusal
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # Added last, so it runs first: a body is limited before any other middleware or route.
    app.add_middleware(BodyLimit)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request):
            return await http_exception_handler(request, exc)
        heading = HEADINGS.get(exc.status_code, "Error")
        detail = exc.detail if exc.status_code != 404 else "There is no page at this address."
        response = message(request, exc.status_code, heading, str(detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        if _wants_json(request):
            return await request_validation_exception_handler(request, exc)
        return message(request, 400, "Bad request", "; ".join(_error_text(e) for e in exc.errors()))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            with Session(engine) as session:
                scheduler = scheduler_state(last_heartbeat(session))
                if config.cluster is not None:
                    scheduler["cluster"] = node_jobs_state(session, utcnow())
                if config.channels:  # counts only: which channel, and why, is for /admin
                    scheduler["channel_deliveries"] = channel_delivery_problems(session)
        except Exception:
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", **scheduler})

    @app.get("/docs", include_in_schema=False)
    def docs():
        response = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="Rulewatch API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )
        response.headers["Content-Security-Policy"] = docs_csp(bytes(response.body))
        return response

    app.include_router(routes_documents.router)
    app.include_router(routes_changes.router)
    app.include_router(routes_expectations.router)
    app.include_router(routes_search.router)
    app.include_router(routes_feeds.router)
    app.include_router(routes_subscriptions.router)
    app.include_router(routes_admin.pages)
    app.include_router(routes_admin.api)
    app.include_router(routes_api.router)
    app.include_router(routes_accounts.router)
    app.include_router(routes_review.pages)
    app.include_router(routes_review.api)

    # The redline's stylesheet is the redline package's own; it sits beside the static files.
    @app.get(f"/static/{STYLESHEET_NAME}", include_in_schema=False)
    def redline_stylesheet() -> Response:
        return Response(stylesheet(), media_type="text/css; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_text(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())[1:])
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


def serve(config: Config, engine: Engine) -> None:
    """Run the web app on [web] host and port until interrupted. Uvicorn's own loggers are left to
    propagate to the root logger, which the caller sets up (tracker.service.scheduler.configure_logging)."""
    import uvicorn

    uvicorn.run(
        create_app(config, engine), host=config.web.host, port=config.web.port, log_level="info", log_config=None
    )
