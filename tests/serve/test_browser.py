"""The webcam page in a real browser: Debian's Chromium, headless, its fake camera playing a SynthFaces clip (y4m),
driven by Playwright with the system Chromium (nothing downloaded). Translated frames arrive, a domain button
changes them (dark hair becomes blond), FPS and latency are shown; a screenshot is saved with the test's output."""

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

# Mean brightness of the hair band of the translated face (the top quarter of the face square), in the page.
HAIR_BRIGHTNESS = """() => {
  const img = document.getElementById("out"), last = window.stargan.last;
  if (!last || !last.regions.length || !img.naturalWidth) return null;
  const [x, y, w, h] = last.regions[0];
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const x0 = Math.max(0, x + w * 0.2), y0 = Math.max(0, y + h * 0.05);
  const d = ctx.getImageData(x0, y0, Math.max(1, w * 0.6), Math.max(1, h * 0.2)).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  return sum / (d.length / 4);
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

    clip = write_y4m(tmp_path / "clip.y4m", [f for f, _ in scene(seconds=2.0)])
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

            def hair(target: str) -> float:
                page.wait_for_function(f"window.stargan.last.target.startsWith('{target}')", timeout=30_000)
                samples = []
                for _ in range(8):
                    frames = page.evaluate("window.stargan.frames")
                    page.wait_for_function(f"window.stargan.frames > {frames}", timeout=30_000)
                    if (v := page.evaluate(HAIR_BRIGHTNESS)) is not None:
                        samples.append(v)
                assert len(samples) >= 4, f"too few frames with a face under {target}: {diagnosis()}"
                return float(np.median(samples))

            dark = hair("Black_Hair")
            page.click("button[data-target='Blond_Hair']")
            blond = hair("Blond_Hair")
            # The button changed what the server draws (measured: dark 83-100, blond 151-162 on this clip).
            assert blond > dark + 30, (dark, blond, diagnosis())

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
              "frames": f1, "sent": sent, "dropped_by_server": dropped, "hair_brightness": [round(dark), round(blond)],
              "screenshot": str(shot)}
    record_property("webcam_page", json.dumps(result))
    print(f"webcam page: {json.dumps(result)}")
    assert shot.stat().st_size > 10_000
