"""WS /v1/stream in-process: the newest frame per client (drops counted, latency bounded), per-frame timings, live
controls, and bad input answered on the socket without ending the stream."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from stargan_rt.serve.app import create_app
from stargan_rt.serve.live import unpack_frame
from stargan_rt.serve.service import ServeConfig, Service

from .conftest import DelayRunner

STAGES = {"queue", "decode", "detect", "preprocess", "infer", "paste", "encode", "server"}


def client_for(runner, **config) -> TestClient:
    return TestClient(create_app(service=Service(ServeConfig(**config), runner=runner)))


def next_frame(ws) -> tuple[dict, np.ndarray]:
    """The next translated frame (skipping nothing: an error message here fails the test)."""
    message = ws.receive()
    assert message.get("bytes") is not None, message
    header, body = unpack_frame(message["bytes"])
    img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, header
    return header, img


def ready(ws) -> dict:
    msg = json.loads(ws.receive_text())
    assert msg["type"] == "ready", msg
    return msg


@pytest.fixture(scope="module")
def client(default_runner) -> TestClient:
    return client_for(default_runner)


def face_diff(a: np.ndarray, b: np.ndarray, box) -> float:
    x0, y0, x1, y1 = (int(v) for v in box)
    return float(np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1].astype(int)).mean())


def test_frames_come_back_translated_with_their_per_stage_timings(client, photo):
    frame, data, box = photo
    with client.websocket_connect("/v1/stream?target=Blond_Hair") as ws:
        assert ready(ws)["domains"][1] == "Blond_Hair"
        ws.send_bytes(data)
        header, out = next_frame(ws)
    assert header["seq"] == 0 and header["faces"] == 1 and header["target"] == "Blond_Hair x1.0"
    assert STAGES <= set(header["timings_ms"]) and header["timings_ms"]["infer"] > 0
    assert len(header["regions"]) == 1 and out.shape == frame.shape
    assert face_diff(out, frame, box) > 10


def test_controls_change_the_target_and_strength_live_and_bad_ones_change_nothing(client, photo):
    frame, data, box = photo
    with client.websocket_connect("/v1/stream?target=Blond_Hair") as ws:
        ready(ws)
        ws.send_bytes(data)
        _, blond = next_frame(ws)
        ws.send_text(json.dumps({"target": "Black_Hair", "strength": 0.5}))
        ws.send_bytes(data)
        header, black = next_frame(ws)
        assert header["target"] == "Black_Hair x0.5"
        assert face_diff(blond, black, box) > 5  # the same camera frame, translated differently

        ws.send_text(json.dumps({"target": "Purple_Hair"}))
        assert "unknown attribute 'Purple_Hair'" in json.loads(ws.receive_text())["error"]
        ws.send_text("not json")
        assert "JSON object" in json.loads(ws.receive_text())["error"]
        ws.send_text(json.dumps({"strength": 3}))
        assert "between 0 and 1" in json.loads(ws.receive_text())["error"]
        ws.send_bytes(data)
        assert next_frame(ws)[0]["target"] == "Black_Hair x0.5"  # unchanged by the bad ones

        ws.send_text(json.dumps({"enabled": False}))
        ws.send_bytes(data)
        header, original = next_frame(ws)
        assert header["faces"] == 0  # translation off: the camera frame, re-encoded
        assert face_diff(original, frame, box) < face_diff(blond, frame, box) / 3


def test_a_bad_frame_is_an_error_message_and_the_stream_goes_on(client, photo):
    with client.websocket_connect("/v1/stream?target=Male") as ws:
        ready(ws)
        ws.send_bytes(b"not an image")
        err = json.loads(ws.receive_text())
        assert err["seq"] == 0 and "not a readable image" in err["error"]
        ws.send_bytes(photo[1])
        assert next_frame(ws)[0]["seq"] == 1


def test_an_unknown_target_at_connect_is_one_error_and_a_close(client):
    with client.websocket_connect("/v1/stream?target=Blnd_Hair") as ws:
        assert "did you mean Blond_Hair?" in json.loads(ws.receive_text())["error"]
        assert ws.receive()["type"] == "websocket.close"


def test_only_the_newest_frame_is_kept_when_the_server_is_slower_than_the_camera(default_runner, photo):
    """15 frames arrive at once at a server that needs >= 0.15 s each: it translates few of them, always the
    newest waiting, counts the rest as dropped, and no frame waits longer than about one frame's processing."""
    client = client_for(DelayRunner(default_runner, delay=0.15))
    n = 15
    with client.websocket_connect("/v1/stream?target=Young") as ws:
        ready(ws)
        for _ in range(n):
            ws.send_bytes(photo[1])
        headers = []
        while not headers or headers[-1]["seq"] != n - 1:
            headers.append(next_frame(ws)[0])
    last = headers[-1]
    assert last["received"] == n and last["processed"] == len(headers) < n
    assert last["processed"] + last["dropped"] == n  # every frame was translated or counted as dropped
    seqs = [h["seq"] for h in headers]
    assert seqs == sorted(seqs) and seqs[-1] == n - 1  # the newest frame is the one answered last
    slowest = max(h["timings_ms"]["server"] - h["timings_ms"]["queue"] for h in headers)
    assert max(h["timings_ms"]["queue"] for h in headers) < 1.5 * slowest + 50  # waited for one frame at most
    metrics = client.get("/metrics").text
    assert f'stargan_stream_frames_total{{outcome="dropped"}} {float(last["dropped"])}' in metrics


def test_stream_slots_are_bounded_and_freed_when_a_client_leaves(default_runner, photo):
    client = client_for(default_runner, max_streams=1)
    with client.websocket_connect("/v1/stream?target=Male") as first:
        ready(first)
        with client.websocket_connect("/v1/stream?target=Male") as second:
            assert "stream slots are busy" in json.loads(second.receive_text())["error"]
    with client.websocket_connect("/v1/stream?target=Male") as again:
        ready(again)
        again.send_bytes(photo[1])
        assert next_frame(again)[0]["faces"] == 1
