"""The one ASGI app (FastAPI): run by uvicorn on one machine, wrapped by Ray Serve on a cluster (ray_app.py).

    POST /v1/translate?target=Blond_Hair[&source_attrs=..][&detector=haar|none][&format=png|jpeg]
                       body: the image bytes -> the translated image; X-Faces and Server-Timing headers
    WS   /v1/stream?target=...                       live frames, newest only (live.py)
    GET  /v1/model     domains, size, backend, limits      GET /healthz      GET /metrics (Prometheus)
    GET  /             the webcam page (static/index.html)

Errors are one line of JSON, {"error": "...", "status": N}, never a stack trace: 400 bad input (the CLI's
messages), 401 token, 413 upload or pixels over the limit, 415 not a raw image body, 422 no face, 503 + Retry-After
when every request slot of this replica is busy. With a token, /v1/* and /metrics need `Authorization: Bearer T`
(the stream also takes ?token=T, since browsers cannot set headers on a WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BadInput, BadModel, MissingDependency, StarGanError
from .live import LiveSession
from .service import NoFace, Overloaded, ServeConfig, Service, TooLarge, Unauthorized

log = logging.getLogger("stargan_rt.serve")
STATIC = Path(__file__).resolve().parent / "static"
# An upload a little over the limit is read and dropped before the 413, so a client that sends its whole body before
# reading the answer (no Expect: 100-continue) gets the 413 rather than a reset; a far larger one is not read at all.
DRAIN_FACTOR = 4
ROUTES = ("/", "/healthz", "/metrics", "/v1/model", "/v1/translate", "/v1/stream")
STATUS = ((TooLarge, 413), (NoFace, 422), (Unauthorized, 401), (Overloaded, 503), (BadInput, 400),
          (MissingDependency, 400), (BadModel, 500))


def status_of(exc: StarGanError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split()), "status": status}, status, headers=headers)


class Guard:
    """Outermost ASGI layer: the upload limit (before and while the body is read) and per-route metrics."""

    def __init__(self, app: ASGIApp, service: Service):
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = scope["path"] if scope["path"] in ROUTES else "other"
        limit, t0, status = self.service.config.max_upload_bytes, time.perf_counter(), [500]

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        length = dict(scope["headers"]).get(b"content-length")
        try:
            if length is not None and length.isdigit() and int(length) > limit:
                self.service.metrics.rejected.labels("too_large").inc()
                if int(length) <= DRAIN_FACTOR * limit:  # read it first, so a client still sending sees the 413
                    while (await receive()).get("more_body", False):
                        pass
                resp = error_response(413, f"upload of {int(length)} bytes is over the limit of {limit}")
                return await resp(scope, receive, counted_send)
            seen = 0

            async def limited_receive() -> Message:
                nonlocal seen
                message = await receive()
                seen += len(message.get("body", b""))
                if seen > limit:  # chunked uploads carry no length: count as it arrives
                    self.service.metrics.rejected.labels("too_large").inc()
                    raise TooLarge(f"upload is over the limit of {limit} bytes")
                return message

            await self.app(scope, limited_receive, counted_send)
        finally:
            m = self.service.metrics
            m.requests.labels(route, str(status[0])).inc()
            m.latency.labels(route).observe(time.perf_counter() - t0)


def create_app(config: ServeConfig | None = None, service: Service | None = None) -> FastAPI:
    """The app around one Service (made from `config` when not given); the Service closes with the app."""
    svc = service or Service(config or ServeConfig())
    token = svc.config.token

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    # /openapi.json stays; the /docs and /redoc pages would make the browser fetch their scripts from a CDN.
    app = FastAPI(title="stargan-rt", summary="StarGAN face attribute translation", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.service = svc
    app.add_middleware(Guard, service=svc)

    def authorize(headers: Any, query: Any = None) -> None:
        if token is None:
            return
        given = (headers.get("authorization") or "").removeprefix("Bearer ").strip() or (query or {}).get("token", "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("missing or wrong bearer token (Authorization: Bearer TOKEN)")

    @app.exception_handler(StarGanError)
    async def on_stargan_error(_: Request, exc: StarGanError) -> JSONResponse:
        status = status_of(exc)
        headers = {"Retry-After": str(svc.config.retry_after_s)} if status == 503 else None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(status, str(exc), headers)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return error_response(400, f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(ClientDisconnect)
    async def on_client_gone(_: Request, exc: ClientDisconnect) -> JSONResponse:  # a client's doing, not a bug
        return error_response(400, "the client went away before sending the whole request body")

    @app.exception_handler(Exception)
    async def on_bug(_: Request, exc: Exception) -> JSONResponse:
        log.error("internal error", exc_info=exc)  # the trace stays in the server's log
        return error_response(500, "internal error")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "backend": svc.runner.describe(), "served_by": svc.config.served_by}

    @app.get("/v1/model")
    async def model(request: Request) -> JSONResponse:
        authorize(request.headers)
        return JSONResponse(svc.model_info(), headers={"X-Served-By": svc.config.served_by})

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        authorize(request.headers)
        return Response(svc.metrics.text(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/translate")
    async def translate(request: Request, target: str | None = None, source_attrs: str | None = None,
                        detector: str | None = None, format: str = "png") -> Response:
        authorize(request.headers)
        if request.headers.get("content-type", "").startswith("multipart/"):  # curl -F; plain curl --data-binary is fine
            raise BadInput("send the image itself as the request body (curl --data-binary @photo.jpg), not a form")
        if not svc.try_enter():
            raise Overloaded(f"all {svc.config.max_inflight} request slots are busy; retry shortly")
        try:
            data = await request.body()
            out = await run_in_threadpool(svc.translate, data, target, source_attrs=source_attrs,
                                          detector=detector, fmt=format)
        finally:
            svc.leave()
        timing = ", ".join(f"{k};dur={v}" for k, v in out.timings_ms.items())
        return Response(out.body, media_type=out.media_type, headers={
            "X-Faces": str(out.faces), "Server-Timing": timing, "X-Served-By": svc.config.served_by})

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        q = ws.query_params
        try:
            authorize(ws.headers, q)
        except Unauthorized as exc:
            return await _refuse(ws, str(exc), 1008)
        if not svc.try_open_stream():
            return await _refuse(ws, f"all {svc.config.max_streams} stream slots are busy; retry shortly", 1013)
        loop = asyncio.get_running_loop()

        def send(message: bytes | str) -> bool:  # from the worker thread: hand the send to the event loop
            coro = ws.send_bytes(message) if isinstance(message, bytes) else ws.send_text(message)
            try:
                asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)
                return True
            except Exception:  # the client has gone
                return False

        session = None
        try:
            session = await run_in_threadpool(LiveSession, svc, send, target=q.get("target"),
                                              source_attrs=q.get("source_attrs"), detector=q.get("detector"))
            await ws.send_text(json.dumps({"type": "ready", "target": q.get("target"), "domains": list(svc.meta.domain_names),
                                           "backend": svc.runner.describe(), "served_by": svc.config.served_by}))
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    if len(message["bytes"]) > svc.config.max_upload_bytes:
                        await ws.send_text(json.dumps({"type": "error", "error": "frame over the upload limit"}))
                        continue
                    session.offer(message["bytes"])
                elif message.get("text") is not None:
                    try:
                        session.control(message["text"])
                    except StarGanError as exc:
                        await ws.send_text(json.dumps({"type": "error", "error": str(exc)}))
        except StarGanError as exc:
            await _refuse(ws, str(exc), 1008)
        except WebSocketDisconnect:
            pass
        finally:
            if session is not None:
                await run_in_threadpool(session.close)
            svc.close_stream()

    return app


async def _refuse(ws: WebSocket, message: str, code: int) -> None:
    with contextlib.suppress(Exception):
        await ws.send_text(json.dumps({"type": "error", "error": message}))
        await ws.close(code=code, reason=message[:120])
