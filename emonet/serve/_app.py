"""``create_app``: the FastAPI app of ``emonet-serve``, its routes and its page."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from emonet import LABELS, __version__
from emonet.features import DETECTORS
from emonet.recognize import list_presets, results_document
from emonet.serve._errors import ServeError
from emonet.serve._images import IMAGE_FORMATS, VIDEO_FORMATS
from emonet.serve._limits import Limits
from emonet.serve._middleware import AccessLog, AllowedHosts, BodyLimit, SecurityHeaders
from emonet.serve._service import Service

__all__ = ["API_KEY_ENV", "create_app"]

#: The environment variable ``emonet-serve`` reads its API key from.
API_KEY_ENV = "EMONET_API_KEY"

STATIC = Path(__file__).resolve().parent / "static"
_SMALL_BODY = 64 * 1024  # routes that take no upload

_IMAGE_BODY = {
    "requestBody": {
        "description": "One or more images: multipart files (any field name, e.g. "
        "`files`), or one image as the raw body. The format is read from the bytes.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_VIDEO_BODY = {
    "requestBody": {
        "description": "One video: a multipart file, or the raw body (MP4, AVI or MKV).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "video/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def create_app(
    recognizer: Any,
    *,
    api_key: str | None = None,
    cors_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] | None = None,
    limits: Limits | None = None,
    detect_threads: int = 2,
    detect_processes: int = 0,
) -> FastAPI:
    """The ASGI app of ``emonet-serve``: the HTTP API under ``/v1``, its page at ``/``.

    Parameters
    ----------
    recognizer : Recognizer or callable
        A loaded :class:`emonet.Recognizer`, or a function that returns one: it is
        called in a thread when the app starts, ``/healthz`` answers meanwhile and
        ``/readyz`` (and every ``/v1`` route that needs the models) says 503 until it is
        done.
    api_key : str, optional
        When given, every ``/v1`` route asks for it (header ``X-API-Key``, or
        ``Authorization: Bearer KEY``; the WebSocket also takes ``?api_key=``), compared
        in constant time; 401 without it.
    cors_origins : sequence of str, default=()
        Origins whose pages may call the API from a browser; none by default.
    allowed_hosts : sequence of str, optional
        The names the service answers to in the ``Host`` header (``localhost``,
        ``127.0.0.1``, ``[::1]``, ``*.example.org``; no port), 400 for others: a guard
        against DNS rebinding, a foreign page reaching a service on this machine by a
        name of its own. Default any (``emonet-serve`` allows only the loopback names
        when it binds loopback).
    limits : Limits, optional
        Upload sizes, pixels, images per request, video length, requests at once.
    detect_threads : int, default=2
        Threads that decode photos and find their faces (dlib's detector runs one photo
        at a time in a process).
    detect_processes : int, default=0
        Worker processes that decode photos and find their faces instead, N photos at
        once (with dlib's detectors by name; a detector given as a function stays in
        the threads). Each takes about a hundred MB and a few seconds to start.

    Returns
    -------
    fastapi.FastAPI
        Run it with uvicorn (``emonet-serve`` does), or call it in process
        (``fastapi.testclient.TestClient``).

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> from emonet import Recognizer
    >>> from emonet.serve import create_app
    >>> app = create_app(Recognizer("fast"))
    >>> with TestClient(app) as client:
    ...     client.get("/readyz").json()["ready"]
    True
    """
    limits = limits or Limits()
    service = Service(recognizer, limits, detect_threads, detect_processes)
    key = api_key.encode() if api_key else None
    allowed_origins = frozenset(cors_origins)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="emonet-serve",
        version=__version__,
        description="Facial expressions of the faces in photos, videos and webcam frames "
        "(FER2013's 7 labels). Results follow the `emonet-predict --json` document. "
        "The WebSocket `GET /v1/stream` (not listed by OpenAPI) takes JPEG frames and "
        "answers one JSON result per frame; a frame that arrives while one is read "
        "replaces the one waiting.",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; ours is served here
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.limits = limits

    def limit_of(path: str, multipart: bool) -> int:
        if path == "/v1/predict":
            return limits.max_request_bytes if multipart else limits.max_upload_bytes
        if path == "/v1/predict/video":
            return limits.max_video_bytes + _SMALL_BODY
        return _SMALL_BODY

    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit_of=limit_of)
    if allowed_hosts is not None:
        app.add_middleware(AllowedHosts, hosts=list(allowed_hosts))
    app.add_middleware(AccessLog)

    # ------------------------------------------------------------------ errors

    @app.exception_handler(ServeError)
    async def serve_error(_request: Request, error: ServeError) -> JSONResponse:
        return JSONResponse(error.to_dict(), error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        parts = []
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("query", "body"))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        message = "; ".join(parts) or "invalid request"
        return JSONResponse({"error": "bad_option", "message": message}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"error": codes.get(error.status_code, "http_error"), "message": str(error.detail)},
            error.status_code,
            headers=getattr(error, "headers", None),
        )

    # ------------------------------------------------------------------ key

    def check_key(request: Request) -> None:
        if key is None:
            return
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if given is None and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not _same_key(given, key):
            raise ServeError(
                401,
                "unauthorized",
                "this server asks for an API key: send it as the X-API-Key header",
                {"WWW-Authenticate": "Bearer"},
            )

    keyed = [Depends(check_key)]

    # ------------------------------------------------------------------ health

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: the models are loaded")
    async def readyz() -> JSONResponse:
        body = {"ready": service.ready, "error": service.load_error}
        return JSONResponse(body, 200 if service.ready else 503)

    # ------------------------------------------------------------------ info

    @app.get("/v1/presets", dependencies=keyed, tags=["info"], summary="The bundled presets")
    async def presets() -> dict[str, Any]:
        loaded = _preset_name(service.recognizer)
        return {
            "presets": [
                {"name": name, "description": text} for name, text in list_presets().items()
            ],
            "loaded": loaded,
        }

    @app.get("/v1/info", dependencies=keyed, tags=["info"], summary="Version, models, limits")
    async def info() -> dict[str, Any]:
        recognizer = service.recognizer
        batcher = service.batcher
        return {
            "emonet_version": __version__,
            "ready": service.ready,
            "preset": _preset_name(recognizer),
            "members": _members(recognizer),
            "tta": getattr(recognizer, "tta_", None),
            "detector": _detector_name(recognizer),
            "detectors": list(DETECTORS),
            "labels": list(LABELS),
            "formats": {"images": list(IMAGE_FORMATS), "videos": list(VIDEO_FORMATS)},
            "limits": limits.to_dict(),
            "api_key": key is not None,
            "batching": {
                "batches": batcher.batches,
                "requests": batcher.requests,
                "faces": batcher.faces,
                "pending": service.pending,
                "refused": service.refused,
            },
        }

    # ------------------------------------------------------------------ predict

    @app.post(
        "/v1/predict",
        dependencies=keyed,
        tags=["predict"],
        summary="The faces of one or more images, and their expressions",
        openapi_extra=_IMAGE_BODY,
    )
    async def predict(
        request: Request,
        tta: Literal["none", "flip", "multiscale"] | None = Query(
            None, description="test-time augmentation; default the preset's"
        ),
        detector: Literal["hog", "cnn"] | None = Query(
            None, description="face detector; default the server's (hog)"
        ),
        min_score: float | None = Query(
            None, ge=-10, le=10, description="lowest detection score kept"
        ),
    ) -> JSONResponse:
        async with service.admit():
            uploads = await _uploads(request, limits.max_images)
            results = await service.recognize(
                uploads, tta=tta, detector=detector, min_score=min_score
            )
        request.scope["emonet.faces"] = sum(len(result.faces) for result in results)
        return JSONResponse(results_document(results))

    @app.post(
        "/v1/predict/video",
        dependencies=keyed,
        tags=["predict"],
        summary="The faces of a video's frames, and their expressions",
        openapi_extra=_VIDEO_BODY,
    )
    async def predict_video(
        request: Request,
        every: int = Query(1, ge=1, le=10_000, description="read every N-th frame"),
    ) -> JSONResponse:
        async with service.admit():
            uploads = await _uploads(request, 1, what="video")
            video = await service.recognize_video(uploads[0][1], every=every)
        request.scope["emonet.faces"] = sum(len(frame.faces) for frame in video.frames)
        return JSONResponse(results_document(videos=[video]))

    # ------------------------------------------------------------------ stream

    @app.websocket("/v1/stream")
    async def stream(
        websocket: WebSocket,
        tta: Literal["none", "flip", "multiscale"] | None = None,
        api_key: str | None = None,
    ) -> None:
        given = websocket.headers.get("x-api-key") or api_key
        if key is not None and not _same_key(given, key):
            await websocket.close(code=1008, reason="an API key is needed: ?api_key=KEY")
            return
        # CORS does not cover WebSockets: a browser page of another site is refused here
        origin = websocket.headers.get("origin")
        if origin and not _same_origin(origin, websocket.headers.get("host", "")):
            if origin not in allowed_origins:
                await websocket.close(code=1008, reason="this origin may not connect")
                return
        await websocket.accept()
        await _stream(websocket, service, tta)

    # ------------------------------------------------------------------ page

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


# ---------------------------------------------------------------------- helpers


def _same_key(given: str | None, key: bytes) -> bool:
    """Constant-time comparison (:func:`hmac.compare_digest`) of a key given with ours."""
    return hmac.compare_digest((given or "").encode("utf-8", "replace"), key)


def _same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` is the page's own server (``Host``)."""
    from urllib.parse import urlsplit

    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


async def _uploads(request: Request, most: int, what: str = "image") -> list[tuple[str, bytes]]:
    """The files of a multipart request, or its raw body: ``[(name, bytes)]``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            async with request.form(max_files=most, max_fields=16) as form:
                uploads = []
                for field, value in form.multi_items():
                    if isinstance(value, str):
                        continue  # a text field: nothing to read
                    uploads.append((value.filename or field, await value.read()))
        except StarletteHTTPException as error:  # too many files, a damaged form
            detail = str(error.detail)
            if "Too many files" in detail:
                raise ServeError(
                    422,
                    "too_many_images",
                    f"more than {most} {what}(s) in one request; send them in several",
                ) from None
            raise ServeError(400, "bad_form", f"a damaged multipart form: {detail}") from None
        if not uploads:
            raise ServeError(400, "no_image", f"no file in the form: send the {what} as a file")
        return uploads
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    if not body:
        raise ServeError(
            400, "no_image", f"empty request: send the {what} as the body or a multipart file"
        )
    return [("", bytes(body))]


async def _stream(websocket: WebSocket, service: Service, tta: str | None) -> None:
    """Frames in, results out; a frame that arrives while one is being read replaces the
    one waiting (latest wins): at most one frame waits, however fast they come."""
    state: dict[str, Any] = {"latest": None, "closed": False, "dropped": 0}
    arrived = asyncio.Event()
    websocket.scope["emonet.frames"] = 0

    async def receive() -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    data = (message.get("text") or "").encode()
                if state["latest"] is not None:
                    state["dropped"] += 1
                state["latest"] = data
                arrived.set()
        finally:
            state["closed"] = True
            arrived.set()

    receiver = asyncio.get_running_loop().create_task(receive())
    index = 0
    try:
        while True:
            await arrived.wait()
            arrived.clear()
            if state["closed"]:
                break
            data, state["latest"] = state["latest"], None
            if data is None:
                continue
            start = time.perf_counter()
            answer: dict[str, Any] = {"frame": index}
            try:
                async with service.admit():
                    (result,) = await service.recognize([("", data)], tta=tta)
                answer.update(result.to_dict())
                answer.pop("source", None)
                websocket.scope["emonet.faces"] = websocket.scope.get("emonet.faces", 0) + len(
                    result.faces
                )
            except ServeError as error:
                answer.update(error.to_dict())
            answer["dropped"] = state["dropped"]
            answer["ms"] = round((time.perf_counter() - start) * 1000, 1)
            index += 1
            websocket.scope["emonet.frames"] = index
            try:
                await websocket.send_json(answer)
            except (WebSocketDisconnect, RuntimeError):
                break
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver


def _preset_name(recognizer: Any) -> str | None:
    preset = getattr(recognizer, "preset_", None)
    return preset.get("name") if preset else None


def _members(recognizer: Any) -> list[str]:
    preset = getattr(recognizer, "preset_", None)
    if preset:
        return list(preset.get("members", []))
    models = getattr(recognizer, "models_", None) or []
    return [str(getattr(model, "name", "model")) for model in models]


def _detector_name(recognizer: Any) -> str | None:
    detector = getattr(recognizer, "detector", None)
    if detector is None:
        return None
    return detector if isinstance(detector, str) else "custom"
