"""The webcam page in a real browser: Debian's Chromium, headless, its fake camera playing a SynthFaces clip (y4m),
driven by Playwright with the system Chromium (nothing downloaded). Translated frames arrive, a domain button
changes them (the hair gets lighter), FPS and latency are shown; a screenshot is saved with the test's output."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import ServerProcess, scene

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root in a sandboxed machine with no network: no sandbox, no GPU, no background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# The translated face square of the last frame shown, scaled to 48x48, as RGBA values (read in the page).
FACE_PIXELS = """() => {
  const img = document.getElementById("out"), last = window.stargan.last;
  if (!last || !last.regions.length || !img.naturalWidth) return null;
  const [x, y, w, h] = last.regions[0];
  const c = document.createElement("canvas");
  c.width = c.height = 48;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, x, y, w, h, 0, 0, 48, 48);
  return Array.from(ctx.getImageData(0, 0, 48, 48).data);
}"""


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """YUV4MPEG2 4:2:0, the format Chromium's fake camera plays (in a loop)."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def browser_available():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("STARGAN_RT_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM} (make setup-browser installs Debian's)")
        pytest.skip("Debian's chromium is not installed (make setup-browser)")


@pytest.mark.slow
def test_the_webcam_page_streams_translated_frames_and_switches_domains(browser_available, tmp_path, record_property):
    from playwright.sync_api import sync_playwright

    # A still SynthFaces scene, played by the fake camera at 25 FPS: a change between frames is the server's doing.
    clip = write_y4m(tmp_path / "clip.y4m", [scene()[0][0]] * 25)
    server = ServerProcess("--detect-every", "3")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"])
            page = browser.new_page(viewport={"width": 1010, "height": 600})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

            def diagnosis() -> str:
                return f"status {page.inner_text('#status')!r}, page errors {errors}, stream errors " + \
                    str(page.evaluate("window.stargan && window.stargan.errors"))

            page.goto(f"{server.url}/?target=Black_Hair")
            page.wait_for_function("window.stargan && window.stargan.frames >= 5", timeout=60_000)
            assert page.inner_text("#status").startswith("streaming"), diagnosis()
            assert page.eval_on_selector("#out", "img => img.naturalWidth") == 640

            def face(target: str) -> np.ndarray:
                """The translated face of the next frame drawn under `target` (float RGB, 48x48)."""
                page.wait_for_function(f"window.stargan.last.target.startsWith('{target}')", timeout=30_000)
                frames = page.evaluate("window.stargan.frames")
                page.wait_for_function(f"window.stargan.frames > {frames}", timeout=30_000)
                pixels = page.evaluate(FACE_PIXELS)
                assert pixels is not None, f"no face in the frame under {target}: {diagnosis()}"
                return np.array(pixels, np.float32).reshape(48, 48, 4)[..., :3]

            dark, dark_again = face("Black_Hair"), face("Black_Hair")
            page.click("button[data-target='Blond_Hair']")
            blond = face("Blond_Hair")
            steady = float(np.abs(dark - dark_again).mean())  # the camera is still: frames agree
            change = float(np.abs(dark - blond).mean())
            lum = [float((f @ np.array([0.299, 0.587, 0.114], np.float32))[:24].mean()) for f in (dark, blond)]
            # The button changed what the server draws, and the hair (the upper half of the face square) got lighter.
            assert change > max(6.0, 3 * steady) and lum[1] > lum[0] + 5, (steady, change, lum, diagnosis())

            # FPS and latency through the page, measured over a few seconds of streaming.
            t0, f0 = page.evaluate("[performance.now(), window.stargan.frames]")
            page.wait_for_timeout(5000)
            t1, f1, sent = page.evaluate("[performance.now(), window.stargan.frames, window.stargan.sent]")
            fps, rtt = float(page.inner_text("#fps")), float(page.inner_text("#rtt"))
            dropped = int(page.inner_text("#dropped"))
            assert fps > 0 and rtt > 0 and dropped >= 0 and page.inner_text("#server").isdigit(), diagnosis()
            # The server is slower than the 25 FPS camera here: frames drop, the round trip stays short (a queue
            # would have grown to seconds by now).
            assert rtt < 1000, (rtt, dropped)
            shot = tmp_path / "webcam-page.png"
            page.screenshot(path=str(shot))
            assert errors == [] and page.evaluate("window.stargan.errors") == [], diagnosis()
            browser.close()
    finally:
        code, err = server.stop()
    assert code == 0, err
    result = {"stream_fps": round((f1 - f0) / ((t1 - t0) / 1000), 1), "shown_fps": fps, "rtt_p50_ms": rtt,
              "frames": f1, "sent": sent, "dropped_by_server": dropped, "face_change": [round(steady, 1), round(change, 1)],
              "screenshot": str(shot)}
    record_property("webcam_page", json.dumps(result))
    print(f"webcam page: {json.dumps(result)}")
    assert shot.stat().st_size > 10_000
