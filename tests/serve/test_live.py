"""``emonet-serve`` as a real process on a free loopback port, and its page in a real
headless Chromium (Playwright): a photo, a non-image, the webcam (Chromium's fake
capture device playing a video of a real face)."""

from __future__ import annotations

import json
import re
import socket

import httpx
import pytest

from emonet.cli.serve import main as serve_main

pytestmark = pytest.mark.slow

HAPPY = (0x2C, 0xA0, 0x2C)  # the page's colour of "happy"


def test_the_cli_refuses_bad_arguments_in_one_line(capsys):
    assert serve_main(["--preset", "nope", "--port", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("emonet-serve: error: unknown preset 'nope'")
    assert "\n" not in error
    assert serve_main(["--port", "70000"]) == 2
    assert "--port must be" in capsys.readouterr().err
    # the models' options are emonet-predict's, checked the same way
    assert serve_main(["--ensemble", "e.json", "--port", "0"]) == 2
    assert "--ensemble needs --models" in capsys.readouterr().err
    assert serve_main(["--models", "nowhere.keras", "--port", "0"]) == 2
    assert "nowhere.keras: no such model" in capsys.readouterr().err


def test_live_server_endpoints(live_server, face_jpeg):
    url = live_server.url
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    info = httpx.get(f"{url}/v1/info").json()
    assert info["preset"] == "fast" and info["limits"]["max_pending"] == 3
    answer = httpx.post(f"{url}/v1/predict", files={"files": ("me.jpg", face_jpeg)}, timeout=60)
    assert answer.status_code == 200
    assert answer.json()["results"][0]["faces"][0]["label"] == "happy"
    assert httpx.post(f"{url}/v1/predict", content=b"%PDF-1.4").status_code == 415
    # the access log: one line per request, on stderr
    log = live_server.log.read_text()
    lines = [
        json.loads(line.split(" emonet.serve.access ", 1)[1])
        for line in log.splitlines()
        if " emonet.serve.access " in line
    ]
    assert {"route": "/v1/predict", "method": "POST", "status": 200, "faces": 1} in [
        {k: v for k, v in line.items() if k != "ms"} for line in lines
    ]
    assert "127.0.0.1" in log  # bound to loopback by default


def test_live_websocket(live_server, face_jpeg):
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{live_server.port}/v1/stream", open_timeout=30) as ws:
        ws.send(face_jpeg)
        answer = json.loads(ws.recv(timeout=60))
        assert answer["frame"] == 0 and answer["faces"][0]["label"] == "happy"


def test_live_refuses_a_foreign_host_by_default(live_server):
    """Bound to loopback, emonet-serve answers only to the loopback names: a page whose
    own name points at 127.0.0.1 (DNS rebinding) gets 400, its WebSocket is refused."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = live_server.url
    answer = httpx.get(f"{url}/v1/info", headers={"Host": f"rebind.example:{live_server.port}"})
    assert answer.status_code == 400 and answer.json()["error"] == "bad_host"
    assert httpx.get(f"{url}/healthz", headers={"Host": "localhost"}).status_code == 200
    # the page's socket reaches 127.0.0.1 by the foreign name
    sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=30)
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://rebind.example:{live_server.port}/v1/stream", sock=sock, open_timeout=30)
    assert refused.value.response.status_code == 403


def test_live_503_past_the_queue_limit(live_server, face_jpeg):
    """Three uploads held open fill the server (--max-pending 3): the next is 503."""
    held = []
    try:
        for _ in range(3):
            conn = socket.create_connection(("127.0.0.1", live_server.port), timeout=30)
            conn.sendall(
                b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                + f"Content-Length: {len(face_jpeg)}\r\n\r\n".encode()
                + face_jpeg[:1000]
            )
            held.append(conn)
        for _ in range(200):
            busy = httpx.post(f"{live_server.url}/v1/predict", content=face_jpeg, timeout=60)
            if busy.status_code == 503:
                break
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"] == "busy"
        for conn in held:
            conn.sendall(face_jpeg[1000:])
            assert conn.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for conn in held:
            conn.close()
    assert httpx.post(f"{live_server.url}/v1/predict", content=face_jpeg, timeout=60).is_success


# ---------------------------------------------------------------------- browser


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(live_server.url + "/")
    # the page's script has run (it fills in the version from /v1/info): its controls
    # are wired before a test types or clicks
    page.wait_for_function("() => document.getElementById('version').textContent !== ''")
    yield page
    context.close()


def _canvas_has(page, selector: str, colour) -> bool:
    """Whether the canvas holds pixels of ``colour`` (a box or label drawn in it)."""
    return page.evaluate(
        """([selector, colour]) => {
            const canvas = document.querySelector(selector);
            const context = canvas.getContext("2d");
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 0; i < data.length; i += 4) {
                if (Math.abs(data[i] - colour[0]) < 3 && Math.abs(data[i + 1] - colour[1]) < 3
                    && Math.abs(data[i + 2] - colour[2]) < 3 && data[i + 3] > 250) return true;
            }
            return false;
        }""",
        [selector, list(colour)],
    )


def test_page_photo_shows_happy(page, tmp_path, face_jpeg, artefacts):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(face_jpeg)
    page.set_input_files("#files", str(photo))
    title = page.locator("#results .face h3").first
    title.wait_for(timeout=60_000)
    assert re.fullmatch(r"happy \d+%", title.inner_text())
    assert _canvas_has(page, "#results canvas", HAPPY)  # the box and label drawn
    assert page.locator("#results [role=meter]").count() == 7
    assert page.locator("#results img").get_attribute("alt") == "astronaut.jpg: happy"
    assert page.locator("#error").is_hidden()
    page.screenshot(path=str(artefacts / "serve_photo.png"), full_page=True)


def test_page_non_image_shows_an_error(page, tmp_path, artefacts):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is no photo")
    page.set_input_files("#files", str(fake))
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=60_000)
    assert "holiday.jpg: This file is not an image" in error.inner_text()
    page.screenshot(path=str(artefacts / "serve_error.png"), full_page=True)


def test_page_no_face_and_too_large(page, tmp_path, coffee_jpeg):
    cup = tmp_path / "cup.jpg"
    cup.write_bytes(coffee_jpeg)
    page.set_input_files("#files", str(cup))
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=60_000)
    assert "cup.jpg: no face found" in error.inner_text()
    assert page.locator("#results img").get_attribute("alt") == "cup.jpg: no face found"
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(11 * 1024 * 1024))  # over the 10 MB limit
    page.wait_for_function("() => document.getElementById('version').textContent !== ''")
    page.set_input_files("#files", str(big))
    page.wait_for_function(
        "() => /huge.jpg: This file is too large/"
        ".test(document.getElementById('error').textContent)",
        timeout=60_000,
    )
    assert "the limit is 10.0 MB" in error.inner_text()


def test_page_keyboard_opens_the_file_chooser(page):
    page.locator("body").focus()
    page.keyboard.press("Tab")  # the first control
    assert page.evaluate("document.activeElement.id") == "files"
    with page.expect_file_chooser(timeout=30_000) as chooser:
        page.keyboard.press("Space")
    assert chooser.value.is_multiple()


def test_page_webcam_shows_live_labels(page, artefacts):
    page.click("#webcam")
    label = page.locator("#live-labels .face h3").first
    label.wait_for(timeout=60_000)
    # numbered as the boxes are when there are several (dlib also takes the astronaut's
    # mission patch for a face in the webcam's frames)
    assert re.fullmatch(r"(1\. )?happy \d+%", label.inner_text())
    page.wait_for_function(
        "() => /[1-9][0-9.]* frames per second/.test(document.getElementById('fps').textContent)",
        timeout=60_000,
    )
    assert _canvas_has(page, "#overlay", HAPPY)
    assert page.get_attribute("#webcam", "aria-pressed") == "true"
    page.screenshot(path=str(artefacts / "serve_webcam.png"), full_page=True)
    page.click("#webcam")
    assert page.get_attribute("#webcam", "aria-pressed") == "false"
