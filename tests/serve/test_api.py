"""The HTTP API in-process (FastAPI's TestClient): translations, the CLI's errors as one-line JSON, upload and pixel
limits, overload answered 503 at once, the bearer token, metrics."""

from __future__ import annotations

import json
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from stargan_rt.serve.app import create_app
from stargan_rt.serve.service import ServeConfig, Service

from .conftest import DelayRunner, jpeg


def client_for(runner, **config) -> TestClient:
    return TestClient(create_app(service=Service(ServeConfig(**config), runner=runner)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(default_runner) -> TestClient:
    return client_for(default_runner)


def one_line_error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert "\n" not in resp.text and "Traceback" not in resp.text
    body = resp.json()
    assert body["status"] == status
    return body["error"]


def decode(resp) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(resp.content, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, resp.headers
    return img


# --- what the service answers ---------------------------------------------------------------------------


def test_the_model_endpoint_describes_domains_size_backend_and_limits(client):
    info = client.get("/v1/model").json()
    assert info["domains"] == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    assert info["image_size"] == 128 and info["label_dim"] == 5
    assert info["backend"] == client.app.state.service.runner.describe() and info["limits"]["max_inflight"] == 4
    assert client.get("/healthz").json()["ok"] is True


def test_a_photo_comes_back_the_same_size_with_the_face_translated_and_the_rest_untouched(client, photo):
    frame, data, (x0, y0, x1, y1) = photo
    resp = client.post("/v1/translate", params={"target": "Blond_Hair"}, content=data)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert resp.headers["x-faces"] == "1"
    stages = dict(part.strip().split(";dur=") for part in resp.headers["server-timing"].split(","))
    assert {"decode", "detect", "infer", "paste", "encode"} <= set(stages) and float(stages["infer"]) > 0
    out, sent = decode(resp), cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == frame.shape
    diff = np.abs(out.astype(int) - sent.astype(int)).mean(axis=2)
    face = diff[int(y0):int(y1), int(x0):int(x1)].mean()
    corners = np.concatenate([diff[:40, :40].ravel(), diff[-40:, -40:].ravel()]).mean()
    assert face > 10 and corners < 0.5, (face, corners)


def test_source_attributes_reach_both_renderings_the_paste_subtracts(client, photo):
    """With the model paste reference the change is G(x, target) - G(x, as is): both must use the request's
    source attributes, exactly as a Translator given that source does."""
    from stargan_rt.commands import _faces_of

    frame, data, _ = photo
    resp = client.post("/v1/translate", params={"target": "Blond_Hair", "source_attrs": "Black_Hair,Young",
                                                "format": "png"}, content=data)
    sent = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    tr = client.app.state.service.translator("auto", smooth=False, source="Black_Hair,Young")
    regions, _ = _faces_of(tr, sent, auto=True)
    expected, _ = tr.translate_frame(sent, "Blond_Hair", regions=regions)
    assert np.array_equal(decode(resp), expected)


def test_detector_none_takes_the_image_as_a_face_crop_and_returns_the_model_sized_face(client, photo):
    resp = client.post("/v1/translate", params={"target": "+Male,-Young=0.5", "detector": "none", "format": "jpeg"},
                       content=photo[1])
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    assert decode(resp).shape == (128, 128, 3)


def test_targets_follow_the_cli_syntax_and_its_errors(client, photo):
    msg = one_line_error(client.post("/v1/translate", params={"target": "Blnd_Hair"}, content=photo[1]), 400)
    assert msg.startswith("unknown attribute 'Blnd_Hair' (did you mean Blond_Hair?)")
    msg = one_line_error(client.post("/v1/translate", params={"target": "Blond_Hair=2"}, content=photo[1]), 400)
    assert "strength must be between 0 and 1" in msg
    assert "target=" in one_line_error(client.post("/v1/translate", content=photo[1]), 400)
    msg = one_line_error(client.post("/v1/translate", params={"target": "Male", "detector": "yunet:/etc/passwd"},
                                     content=photo[1]), 400)
    assert "unknown face detector" in msg


def test_bad_images_are_one_line_400s(client):
    assert "not a readable image" in one_line_error(
        client.post("/v1/translate", params={"target": "Male"}, content=b"hello"), 400)
    assert "no image" in one_line_error(client.post("/v1/translate", params={"target": "Male"}, content=b""), 400)
    truncated = jpeg(np.full((64, 64, 3), 128, np.uint8))[:200]
    one_line_error(client.post("/v1/translate", params={"target": "Male"}, content=truncated), 400)
    form = client.post("/v1/translate", params={"target": "Male"}, files={"image": ("a.jpg", b"x", "image/jpeg")})
    assert "request body" in one_line_error(form, 400)


def test_an_image_without_a_face_is_a_422_naming_the_detector(client):
    blank = jpeg(np.full((480, 640, 3), 200, np.uint8))
    msg = one_line_error(client.post("/v1/translate", params={"target": "Male"}, content=blank), 422)
    assert "no face found by the auto detector" in msg
    msg = one_line_error(client.post("/v1/translate", params={"target": "Male", "detector": "haar"}, content=blank), 422)
    assert "no face found by the haar detector" in msg


def test_like_the_cli_a_small_photo_without_a_detected_face_is_taken_as_a_face_crop(client):
    small = jpeg(np.full((218, 178, 3), 200, np.uint8))  # the CLI's "auto": small, so a crop, pasted back whole
    resp = client.post("/v1/translate", params={"target": "Male"}, content=small)
    assert resp.status_code == 200 and decode(resp).shape == (218, 178, 3)


def test_unknown_routes_and_methods_are_json_too(client):
    one_line_error(client.get("/nope"), 404)
    one_line_error(client.get("/v1/translate"), 405)


def test_a_bug_is_a_500_with_one_line_and_no_stack_trace(default_runner, photo):
    class Broken(DelayRunner):
        def infer_frames(self, frames, c):
            raise RuntimeError("secret internals")

    resp = client_for(Broken(default_runner)).post("/v1/translate", params={"target": "Male"}, content=photo[1])
    assert one_line_error(resp, 500) == "internal error"


# --- limits -----------------------------------------------------------------------------------------------


def png_header_claiming(w: int, h: int) -> bytes:
    """A tiny PNG whose header says w x h: a decompression bomb as far as a decoder that trusts it can tell."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_uploads_over_the_byte_limit_are_413_with_or_without_a_content_length(default_runner, photo):
    small = client_for(default_runner, max_upload_bytes=10_000)
    assert len(photo[1]) > 10_000
    msg = one_line_error(small.post("/v1/translate", params={"target": "Male"}, content=photo[1]), 413)
    assert "over the limit of 10000" in msg

    def chunks():  # chunked transfer: no Content-Length, the limit is counted as the body arrives
        for i in range(0, len(photo[1]), 4096):
            yield photo[1][i : i + 4096]

    one_line_error(small.post("/v1/translate", params={"target": "Male"}, content=chunks()), 413)


def test_a_decompression_bomb_stops_at_its_header(default_runner):
    bomb = png_header_claiming(50_000, 50_000)
    assert len(bomb) < 200
    svc_client = client_for(default_runner)
    msg = one_line_error(svc_client.post("/v1/translate", params={"target": "Male"}, content=bomb), 413)
    assert "50000x50000" in msg or "too large" in msg
    limited = client_for(default_runner, max_pixels=100 * 100)
    msg = one_line_error(limited.post("/v1/translate", params={"target": "Male"}, content=png_header_claiming(640, 480)), 413)
    assert "640x480 pixels is over the limit of 10000" in msg


def test_beyond_the_request_slots_the_answer_is_503_with_retry_after_at_once(default_runner, photo):
    gate = threading.Event()
    runner = DelayRunner(default_runner, gate=gate)
    client = client_for(runner, max_inflight=1, retry_after_s=2)
    first: dict = {}
    t = threading.Thread(target=lambda: first.setdefault("r", client.post("/v1/translate", params={"target": "Male"},
                                                                              content=photo[1])))
    t.start()
    assert runner.entered.wait(30)  # the first request holds the only slot
    busy = client.post("/v1/translate", params={"target": "Male"}, content=photo[1])
    assert "request slots are busy" in one_line_error(busy, 503)
    assert busy.headers["retry-after"] == "2"
    assert "stargan_inflight_requests 1.0" in client.get("/metrics").text
    gate.set()
    t.join(30)
    assert first["r"].status_code == 200
    assert client.post("/v1/translate", params={"target": "Male"}, content=photo[1]).status_code == 200
    metrics = client.get("/metrics").text
    assert 'stargan_rejected_total{reason="overload"} 1.0' in metrics
    assert 'stargan_http_requests_total{route="/v1/translate",status="503"} 1.0' in metrics
    assert 'stargan_http_requests_total{route="/v1/translate",status="200"} 2.0' in metrics


# --- the token --------------------------------------------------------------------------------------------


def test_with_a_token_the_api_and_metrics_need_it_and_the_page_and_health_do_not(default_runner, photo):
    client = client_for(default_runner, token="s3cret")
    assert "bearer token" in one_line_error(client.get("/v1/model"), 401)
    one_line_error(client.get("/v1/model", headers={"Authorization": "Bearer wrong"}), 401)
    one_line_error(client.post("/v1/translate", params={"target": "Male"}, content=photo[1]), 401)
    one_line_error(client.get("/metrics"), 401)
    ok = {"Authorization": "Bearer s3cret"}
    assert client.get("/v1/model", headers=ok).status_code == 200
    assert client.post("/v1/translate", params={"target": "Male"}, content=photo[1], headers=ok).status_code == 200
    assert client.get("/healthz").status_code == 200 and "<video" in client.get("/").text
    with client.websocket_connect("/v1/stream?target=Male") as ws:
        assert "bearer token" in json.loads(ws.receive_text())["error"]
    with client.websocket_connect("/v1/stream?target=Male&token=s3cret") as ws:
        assert json.loads(ws.receive_text())["type"] == "ready"


def test_the_page_and_its_script_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="fps"' in page.text and "/static/app.js" in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "getUserMedia" in script.text and "/v1/stream" in script.text


def test_the_command_line_reaches_the_service(default_runner):
    from stargan_rt.cli import build_parser
    from stargan_rt.serve.cli import config_from

    args = build_parser().parse_args(["serve", "--paste-reference", "input", "--source-attrs", "Young",
                                      "--max-inflight", "3", "--max-upload-mb", "2", "--detect-every", "3"])
    config = config_from(args)
    assert (config.paste_reference, config.source_attrs, config.max_inflight, config.max_upload_bytes,
            config.detect_every, config.detector, config.token) == ("input", "Young", 3, 2 << 20, 3, "auto", None)
    tr = Service(config, runner=default_runner).translator("auto", smooth=True)
    assert tr.paste_back.reference == "input" and tr.detect_every == 3 and tr.detector.name.startswith("haar")


def test_a_client_that_leaves_mid_upload_is_a_400_not_an_internal_error(client, caplog):
    """A Content-Length promising more than arrives, then the socket closes: the client's doing, so no 500 and no
    traceback in the server's log."""
    import asyncio

    sent: list[dict] = []
    parts = iter([{"type": "http.request", "body": b"0123456789", "more_body": True}, {"type": "http.disconnect"}])

    async def receive():
        return next(parts)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/translate", "raw_path": b"/v1/translate", "query_string": b"target=Male", "root_path": "",
             "headers": [(b"host", b"x"), (b"content-length", b"1000000")], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}
    asyncio.run(client.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert "internal error" not in caplog.text and "Traceback" not in caplog.text
