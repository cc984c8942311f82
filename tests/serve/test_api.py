"""The app in process (FastAPI's TestClient, httpx over ASGI): every endpoint, every
limit, the API key, CORS, 503 when full, the WebSocket, the access log."""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import re
import tempfile
import threading

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from skimage import data
from starlette.websockets import WebSocketDisconnect

from emonet import LABELS
from emonet.recognize import list_presets
from emonet.serve import (
    ACCESS_LOGGER,
    IMAGE_FORMATS,
    VIDEO_FORMATS,
    Limits,
    ServeError,
    create_app,
    sniff_image,
    sniff_video,
)
from tests.serve.conftest import png_with_size


@pytest.fixture(scope="module")
def client(recognizer):
    with TestClient(create_app(recognizer)) as client:
        yield client


def _faces(answer) -> list[dict]:
    return [face for result in answer.json()["results"] for face in result["faces"]]


# ---------------------------------------------------------------------- predict


def test_predict_multipart_gives_the_document_of_emonet_predict(client, face_jpeg, recognizer):
    answer = client.post("/v1/predict", files={"files": ("astronaut.jpg", face_jpeg)})
    assert answer.status_code == 200
    document = answer.json()
    assert document["format"] == "emonet-predictions"
    assert isinstance(document["format_version"], int)
    assert document["labels"] == list(LABELS)
    (result,) = document["results"]
    assert (result["source"], result["width"], result["height"]) == ("astronaut.jpg", 512, 512)
    (face,) = result["faces"]
    assert face["label"] == "happy"
    assert set(face["probabilities"]) == set(LABELS)
    # the same numbers as the library's, for the same decoded photo
    photo = cv2.cvtColor(cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), 1), cv2.COLOR_BGR2RGB)
    (expected,) = recognizer.predict(photo)
    assert face["box"] == list(expected.faces[0].box)
    assert face["confidence"] == pytest.approx(expected.faces[0].confidence, abs=1e-5)


def test_predict_raw_body_and_several_files(client, face_jpeg, coffee_jpeg):
    raw = client.post("/v1/predict", content=face_jpeg, headers={"content-type": "image/jpeg"})
    assert raw.status_code == 200
    assert raw.json()["results"][0]["source"] is None
    assert [f["label"] for f in _faces(raw)] == ["happy"]
    both = client.post(
        "/v1/predict",
        files=[("files", ("a.jpg", face_jpeg)), ("files", ("../../etc/cup.jpg", coffee_jpeg))],
    )
    assert both.status_code == 200
    results = both.json()["results"]
    # a file name is a label only: its last part, never a path that is read
    assert [r["source"] for r in results] == ["a.jpg", "cup.jpg"]
    assert [len(r["faces"]) for r in results] == [1, 0]


def test_predict_options(client, face_jpeg):
    def ask(query):
        return client.post(f"/v1/predict?{query}", content=face_jpeg)

    none, flip = ask("tta=none"), ask("tta=flip")
    assert none.status_code == flip.status_code == 200
    assert _faces(none)[0]["probabilities"] != _faces(flip)[0]["probabilities"]
    assert _faces(ask("detector=hog&min_score=5")) == []  # the astronaut scores 1.5
    assert len(_faces(ask("min_score=0.5"))) == 1
    for query, name in (
        ("tta=twice", "tta"),
        ("detector=yolo", "detector"),
        ("min_score=x", "min_score"),
    ):
        answer = ask(query)
        assert answer.status_code == 422
        assert answer.json()["error"] == "bad_option"
        assert name in answer.json()["message"]


def test_content_is_sniffed_from_the_bytes(client, face_jpeg):
    # a JPEG named .txt and sent as text is read; text named .jpg and sent as JPEG is not
    named = client.post("/v1/predict", files={"files": ("notes.txt", face_jpeg, "text/plain")})
    assert named.status_code == 200 and len(_faces(named)) == 1
    fake = client.post("/v1/predict", files={"files": ("face.jpg", b"hello, world", "image/jpeg")})
    assert fake.status_code == 415
    assert fake.json() == {
        "error": "not_an_image",
        "message": "face.jpg: not an image: send JPEG, PNG, BMP, WebP or TIFF bytes",
    }
    damaged = client.post("/v1/predict", content=face_jpeg[:300])
    assert damaged.status_code == 422 and damaged.json()["error"] == "bad_image"
    assert client.post("/v1/predict", content=b"").json()["error"] == "no_image"


def test_sniffing():
    assert sniff_image(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()) == "png"
    assert sniff_image(b"GIF89a...") is None
    assert sniff_video(b"\x00\x00\x00\x18ftypmp42") == "mp4"
    assert sniff_video(b"\xff\xd8\xff\xe0") is None
    assert "jpeg" in IMAGE_FORMATS and "mp4" in VIDEO_FORMATS


def test_limits_are_enforced_with_clear_errors(recognizer, face_jpeg):
    limits = Limits(max_upload_bytes=20_000, max_request_bytes=100_000, max_images=2)
    with TestClient(create_app(recognizer, limits=limits)) as client:
        big = client.post("/v1/predict", content=face_jpeg)
        assert big.status_code == 413
        assert big.json()["error"] == "too_large"
        assert "20,000 bytes" in big.json()["message"]
        # over the request's limit: refused by its Content-Length, before it is read
        form = client.post("/v1/predict", files=[("files", ("a.jpg", face_jpeg))] * 3)
        assert form.status_code == 413
        # a chunked body, without Content-Length, is counted as it streams in
        chunked = client.post("/v1/predict", content=iter([face_jpeg[:60_000]] * 2))
        assert chunked.status_code == 413
        small = jpeg_of(cv2.resize(data.astronaut(), (128, 128)))
        many = client.post("/v1/predict", files=[("files", ("a.jpg", small))] * 3)
        assert many.status_code == 422
        assert many.json()["error"] == "too_many_images"
    with TestClient(create_app(recognizer, limits=Limits(max_pixels=100_000))) as client:
        pixels = client.post("/v1/predict", content=face_jpeg)
        assert pixels.status_code == 413
        assert "512x512 pixels" in pixels.json()["message"]
        # decompression bombs: refused from their header; the pixels are never decoded
        for width in (7000, 30000):
            bomb = client.post("/v1/predict", content=png_with_size(width, width))
            assert bomb.status_code == 413, bomb.text
            assert bomb.json()["error"] == "too_many_pixels"


def jpeg_of(image):
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_limits_are_checked():
    assert Limits(max_images=3).to_dict()["max_images"] == 3
    with pytest.raises(ValueError, match="max_images must be"):
        Limits(max_images=0)
    with pytest.raises(ValueError, match="max_pixels must be"):
        Limits(max_pixels=-1)


# ---------------------------------------------------------------------- video


def test_predict_video(recognizer, tmp_path):
    frames = [data.astronaut()] * 4
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (512, 512))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    video = path.read_bytes()
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "emonet-serve-*")))
    with TestClient(create_app(recognizer)) as client:
        answer = client.post("/v1/predict/video?every=2", files={"file": ("clip.mp4", video)})
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["video"]["every"] == 2
        assert [frame["frame"] for frame in result["frames"]] == [0, 2]
        assert all(f["faces"][0]["label"] == "happy" for f in result["frames"])
        raw = client.post("/v1/predict/video", content=video)
        assert raw.status_code == 200 and len(raw.json()["results"][0]["frames"]) == 4
        image = client.post("/v1/predict/video", content=jpeg_of(data.astronaut()))
        assert image.status_code == 415 and image.json()["error"] == "not_a_video"
    short = Limits(max_video_seconds=0.2, max_video_frames=3)
    with TestClient(create_app(recognizer, limits=short)) as client:
        long = client.post("/v1/predict/video", content=video)
        assert long.status_code == 422 and long.json()["error"] == "video_too_long"
    with TestClient(create_app(recognizer, limits=Limits(max_video_frames=3))) as client:
        many = client.post("/v1/predict/video", content=video)
        assert many.status_code == 422 and "every=2" in many.json()["message"]
    # the temporary files are gone
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "emonet-serve-*"))) == before


# ---------------------------------------------------------------------- info


def test_health_info_presets(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"ready": True, "error": None}
    info = client.get("/v1/info").json()
    assert info["preset"] == "fast" and info["labels"] == list(LABELS)
    assert info["members"] and info["limits"]["max_upload_bytes"] == 10 * 1024 * 1024
    presets = client.get("/v1/presets").json()
    assert {p["name"] for p in presets["presets"]} == set(list_presets())
    assert presets["loaded"] == "fast"
    assert client.get("/nothing").json()["error"] == "not_found"


def test_readiness_while_the_models_load(recognizer, face_jpeg):
    release = threading.Event()

    def load():
        release.wait(60)
        return recognizer

    with TestClient(create_app(load)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        waiting = client.post("/v1/predict", content=face_jpeg)
        assert waiting.status_code == 503 and waiting.json()["error"] == "not_ready"
        assert waiting.headers["retry-after"] == "1"
        release.set()
        for _ in range(400):
            if client.get("/readyz").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert client.post("/v1/predict", content=face_jpeg).status_code == 200

    def broken():
        raise ValueError("unknown preset 'nope'")

    with TestClient(create_app(broken)) as client:
        for _ in range(400):
            if client.get("/readyz").json()["error"]:
                break
            threading.Event().wait(0.05)
        assert "unknown preset 'nope'" in client.get("/readyz").json()["error"]
        assert "failed to load" in client.post("/v1/predict", content=face_jpeg).text
    with pytest.raises(TypeError, match="recognizer must be"):
        create_app(42)


# ---------------------------------------------------------------------- safety


def test_api_key(recognizer, face_jpeg):
    with TestClient(create_app(recognizer, api_key="s3cret")) as client:
        for route in ("/v1/info", "/v1/presets"):
            assert client.get(route).status_code == 401
            assert client.get(route, headers={"X-API-Key": "wrong"}).status_code == 401
            assert client.get(route, headers={"X-API-Key": "s3cret"}).status_code == 200
        refused = client.post("/v1/predict", content=face_jpeg)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
        assert refused.headers["www-authenticate"] == "Bearer"
        bearer = client.post(
            "/v1/predict", content=face_jpeg, headers={"Authorization": "Bearer s3cret"}
        )
        assert bearer.status_code == 200
        assert client.post("/v1/predict/video", content=b"x").status_code == 401
        # health and the page stay open: the page asks for the key
        assert client.get("/healthz").status_code == client.get("/").status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/v1/stream") as socket:
                socket.receive_json()
        assert closed.value.code == 1008
        with client.websocket_connect("/v1/stream?api_key=s3cret") as socket:
            socket.send_bytes(face_jpeg)
            assert socket.receive_json()["faces"][0]["label"] == "happy"


def test_cors_is_closed_unless_origins_are_named(recognizer, client):
    preflight = {
        "Origin": "https://app.example.org",
        "Access-Control-Request-Method": "POST",
    }
    closed = client.options("/v1/predict", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    assert "access-control-allow-origin" not in client.get("/v1/info", headers=preflight).headers
    # WebSockets, which CORS does not cover: another site's page is refused, the page's
    # own server and programs (no Origin) are not
    evil = {"Origin": "https://evil.example"}
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/v1/stream", headers=evil) as socket:
            socket.receive_json()
    assert closed.value.code == 1008
    with client.websocket_connect("/v1/stream", headers={"Origin": "http://testserver"}):
        pass
    app = create_app(recognizer, cors_origins=["https://app.example.org"])
    with TestClient(app) as open_client:
        named = {"Origin": "https://app.example.org"}
        with open_client.websocket_connect("/v1/stream", headers=named):
            pass
        answer = open_client.options("/v1/predict", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://app.example.org"
        other = open_client.get("/v1/info", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_overload_answers_503_with_retry_after(recognizer, face_jpeg):
    """A request whose upload is held open keeps its place; past max_pending, 503."""
    app = create_app(recognizer, limits=Limits(max_pending=1))
    service = app.state.service

    async def scenario():
        gate = asyncio.Event()

        async def slow_body():
            yield face_jpeg[:1000]
            await gate.wait()
            yield face_jpeg[1000:]

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            held = asyncio.create_task(client.post("/v1/predict", content=slow_body()))
            for _ in range(2000):
                if service.pending:
                    break
                await asyncio.sleep(0.005)
            assert service.pending == 1
            refused = await client.post("/v1/predict", content=face_jpeg)
            gate.set()
            done = await held
            after = await client.post("/v1/predict", content=face_jpeg)
        await service.stop()
        return refused, done, after

    refused, done, after = asyncio.run(scenario())
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "busy"
    assert done.status_code == after.status_code == 200
    assert service.refused == 1 and service.pending == 0


def test_concurrent_requests_all_answer_and_share_batches(recognizer, face_jpeg, coffee_jpeg):
    """Requests at once: each answered (dlib's detector, which crashes when two threads
    run it at once, is taken in turn), their faces read in shared network batches."""
    # a long wait: the worker waits while requests are still on their way, no longer
    app = create_app(recognizer, limits=Limits(batch_wait_ms=10_000))
    service = app.state.service

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = await asyncio.gather(
                *[
                    client.post("/v1/predict", content=[face_jpeg, coffee_jpeg][i % 2])
                    for i in range(12)
                ]
            )
        await service.stop()
        return answers

    answers = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [200] * 12
    assert [len(_faces(a)) for a in answers] == [1, 0] * 6
    batcher = service.batcher
    assert batcher.requests == 6 and batcher.faces == 6  # the coffee's requests need none
    assert batcher.batches < batcher.requests


def test_the_page_and_docs_load_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    assert '<label for="files">' in page.text and 'lang="en"' in page.text  # labelled controls
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    spec = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/predict/video", "/v1/info", "/healthz"} <= set(spec["paths"])
    for name in ("index.html", "app.js", "style.css", "docs.html", "docs.js"):
        text = client.get(f"/static/{name}").text
        assert not re.search(r"(src|href)=\"(https?:)?//", text), name
        assert "cdn" not in text.lower(), name
    assert client.get("/static/../_app.py").status_code == 404


# ---------------------------------------------------------------------- stream


def test_stream_latest_frame_wins(client, face_jpeg):
    sent = 6
    with client.websocket_connect("/v1/stream?tta=none") as socket:
        for _ in range(sent):
            socket.send_bytes(face_jpeg)
        answers = [socket.receive_json()]
        while len(answers) + answers[-1]["dropped"] < sent:
            answers.append(socket.receive_json())
        # frames that came while one was read replaced each other: not all were read
        assert answers[-1]["dropped"] >= 1
        assert [a["frame"] for a in answers] == list(range(len(answers)))
        assert all(a["faces"][0]["label"] == "happy" for a in answers)
        assert {"width", "height", "ms"} <= set(answers[0])
        socket.send_bytes(b"not a picture")
        error = socket.receive_json()
        assert error["error"] == "not_an_image" and "not an image" in error["message"]
        socket.send_bytes(face_jpeg)  # still open after an error
        assert socket.receive_json()["faces"][0]["label"] == "happy"


# ---------------------------------------------------------------------- log


def test_access_log_has_one_line_per_request_and_no_image(client, face_jpeg, caplog):
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        client.post("/v1/predict?tta=none", content=face_jpeg)
        client.post("/v1/predict", content=b"text")
        client.get("/healthz")
    lines = [record.getMessage() for record in caplog.records if record.name == ACCESS_LOGGER]
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    assert [(e["route"], e["status"], e["faces"]) for e in entries] == [
        ("/v1/predict", 200, 1),
        ("/v1/predict", 415, 0),
        ("/healthz", 200, 0),
    ]
    assert all(isinstance(e["ms"], float) for e in entries)
    assert all(len(line) < 200 and "tta" not in line for line in lines)


def test_serve_error_shape():
    error = ServeError(413, "too_large", "too big", {"Retry-After": "1"})
    assert error.to_dict() == {"error": "too_large", "message": "too big"}
    assert error.status == 413 and error.headers == {"Retry-After": "1"}


def test_cli_settings_key_from_the_environment_and_a_warning_off_loopback():
    from emonet.cli.serve import app_settings, build_parser
    from emonet.serve import API_KEY_ENV

    parse = build_parser().parse_args
    settings, warnings = app_settings(parse([]), environ={API_KEY_ENV: "from-env"})
    assert settings["api_key"] == "from-env" and warnings == []
    assert settings["cors_origins"] == [] and settings["limits"] == Limits()
    given = parse(
        ["--api-key", "given", "--cors-origin", "https://a.example", "--max-images", "2"]
    )
    settings, _ = app_settings(given, environ={API_KEY_ENV: "from-env"})
    assert settings["api_key"] == "given" and settings["cors_origins"] == ["https://a.example"]
    assert settings["limits"].max_images == 2
    open_host = parse(["--host", "0.0.0.0"])
    assert parse([]).host == "127.0.0.1"  # loopback unless asked
    (warning,) = app_settings(open_host, environ={})[1]
    assert "without an API key" in warning
    assert app_settings(parse(["--host", "::1"]), environ={})[1] == []


def test_cli_settings_allowed_hosts_loopback_names_unless_told():
    from emonet.cli.serve import app_settings, build_parser

    parse = build_parser().parse_args
    loopback = ["127.0.0.1", "[::1]", "localhost"]
    assert app_settings(parse([]), environ={})[0]["allowed_hosts"] == loopback
    assert app_settings(parse(["--host", "::1"]), environ={})[0]["allowed_hosts"] == loopback
    assert app_settings(parse(["--host", "127.0.0.2"]), environ={})[0]["allowed_hosts"] == [
        "127.0.0.1",
        "127.0.0.2",
        "[::1]",
        "localhost",
    ]
    assert app_settings(parse(["--host", "0.0.0.0"]), environ={})[0]["allowed_hosts"] is None
    told = parse(["--host", "0.0.0.0", "--allowed-host", "fer.example", "--allowed-host", "*.lab"])
    assert app_settings(told, environ={})[0]["allowed_hosts"] == ["fer.example", "*.lab"]


def test_a_foreign_host_header_is_refused(recognizer):
    """DNS rebinding: a request by a name the service was not told is answered 400, in
    the API's error shape; the allowed names answer, with any port."""
    app = create_app(recognizer, allowed_hosts=["localhost", "[::1]", "*.lab.example"])
    with TestClient(app, base_url="http://evil.example:8000") as client:
        answer = client.get("/healthz")
        assert answer.status_code == 400 and answer.json()["error"] == "bad_host"
        assert "'evil.example:8000'" in answer.json()["message"]
        assert "--allowed-host" in answer.json()["message"]
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/v1/stream") as ws:
            ws.receive_json()
        for host in ("localhost:8000", "LOCALHOST", "[::1]:8000", "fer.lab.example"):
            assert client.get("/healthz", headers={"host": host}).status_code == 200, host
        for host in ("lab.example", "localhost.evil.example", "[::2]:80", ""):
            assert client.get("/healthz", headers={"host": host}).status_code == 400, host


@pytest.mark.slow
def test_faces_found_in_worker_processes(recognizer, client, face_jpeg, coffee_jpeg):
    """detect_processes: the same answers, photos searched in spawned processes; a refused
    upload's error comes back from the worker whole."""
    threads = client.post("/v1/predict", content=face_jpeg).json()
    with TestClient(create_app(recognizer, detect_processes=1)) as elsewhere:
        assert elsewhere.post("/v1/predict", content=face_jpeg).json() == threads
        photos = [("files", ("a.jpg", face_jpeg)), ("files", ("b.jpg", coffee_jpeg))]
        both = elsewhere.post("/v1/predict", files=photos)
        assert [[f["label"] for f in r["faces"]] for r in both.json()["results"]] == [
            ["happy"],
            [],
        ]
        strict = elsewhere.post("/v1/predict?min_score=5", content=face_jpeg)
        assert strict.status_code == 200 and _faces(strict) == []
        fake = elsewhere.post("/v1/predict", files={"files": ("x.jpg", b"plain text")})
        assert fake.status_code == 415 and fake.json()["message"].startswith("x.jpg: not an")
