// The webcam page: camera frames go over WS /v1/stream, translated frames come back with their timings.
// Drop, don't lag: a frame is sent only when the socket has nothing queued, and the server keeps only the newest
// frame of each client, so a server slower than the camera lowers the FPS, never raises the latency.
// A bearer token, when the server needs one, is given in the page address: http://host:port/#token=T
"use strict";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const auth = token ? { Authorization: `Bearer ${token}` } : {};
const SEND_WIDTH = 640;       // frames are scaled to this width before JPEG encoding
const JPEG_QUALITY = 0.8;

const state = { ws: null, errors: [], sent: 0, sentAt: new Map(), arrivals: [], rtts: [], frames: 0, last: null, url: null };
window.stargan = state;     // for the browser test and the curious

function status(text) { $("status").textContent = text; }

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function control(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function domainButtons(domains, initial) {
  const box = $("domains");
  const press = (btn) => box.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === btn)));
  for (const name of domains) {
    const btn = document.createElement("button");
    btn.textContent = name.replaceAll("_", " ");
    btn.dataset.target = name;
    btn.setAttribute("aria-pressed", String(name === initial));
    btn.onclick = () => { press(btn); control({ target: name, enabled: true }); };
    box.append(btn);
  }
  const original = document.createElement("button");
  original.textContent = "original";
  original.dataset.target = "";
  original.onclick = () => { press(original); control({ enabled: false }); };
  box.append(original);
}

function onFrame(buffer) {
  const view = new DataView(buffer);
  const n = view.getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const blob = new Blob([new Uint8Array(buffer, 4 + n)], { type: "image/jpeg" });
  if (state.url) URL.revokeObjectURL(state.url);
  state.url = URL.createObjectURL(blob);
  $("out").src = state.url;

  const now = performance.now();
  const sentAt = state.sentAt.get(header.seq);
  for (const seq of state.sentAt.keys()) if (seq <= header.seq) state.sentAt.delete(seq);
  if (sentAt !== undefined) state.rtts.push(now - sentAt);
  if (state.rtts.length > 30) state.rtts.shift();
  state.arrivals.push(now);
  while (state.arrivals.length && now - state.arrivals[0] > 2000) state.arrivals.shift();
  state.frames += 1;
  state.last = header;

  const span = (state.arrivals[state.arrivals.length - 1] - state.arrivals[0]) / 1000;
  if (state.arrivals.length > 1 && span > 0) $("fps").textContent = ((state.arrivals.length - 1) / span).toFixed(1);
  $("rtt").textContent = median(state.rtts).toFixed(0);
  $("server").textContent = header.timings_ms.server.toFixed(0);
  $("dropped").textContent = header.dropped;
  $("faces").textContent = header.faces;
  $("target").textContent = `translated: ${header.target}`;
  $("stages").textContent = Object.entries(header.timings_ms).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(" · ");
}

function sender(video, ws) {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  let encoding = false;
  const tick = () => {
    if (ws.readyState !== WebSocket.OPEN) return;
    // Skip this camera frame when the last one is still being encoded or still queued on the socket.
    if (!encoding && ws.bufferedAmount === 0 && video.videoWidth) {
      const scale = Math.min(1, SEND_WIDTH / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      encoding = true;
      canvas.toBlob((blob) => {
        encoding = false;
        if (!blob || ws.readyState !== WebSocket.OPEN) return;
        state.sentAt.set(state.sent, performance.now());
        state.sent += 1;
        $("sent").textContent = state.sent;
        ws.send(blob);
      }, "image/jpeg", JPEG_QUALITY);
    }
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(tick);
    else setTimeout(tick, 15);
  };
  tick();
}

async function main() {
  const res = await fetch("/v1/model", { headers: auth });
  const model = await res.json();
  if (!res.ok) return status(`error: ${model.error}`);
  const initial = new URLSearchParams(location.search).get("target") || model.domains[0];
  domainButtons(model.domains, initial);
  $("strength").oninput = (e) => {
    $("strength-value").textContent = Number(e.target.value).toFixed(1);
    control({ strength: Number(e.target.value) });
  };

  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    return status(`no camera: ${err.message}`);
  }
  const video = $("camera");
  video.srcObject = stream;
  await video.play();

  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ target: initial });
  if (token) query.set("token", token);
  const ws = new WebSocket(`${proto}//${location.host}/v1/stream?${query}`);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onmessage = (event) => {
    if (typeof event.data !== "string") return onFrame(event.data);
    const msg = JSON.parse(event.data);
    if (msg.type === "ready") {
      status(`streaming · ${msg.backend.split(":")[0]} · ${msg.served_by}`);
      $("status").title = msg.backend;
      sender(video, ws);
    } else if (msg.type === "error") {
      state.errors.push(msg.error);
      // A frame the server could not use is shown and passed over; any other error is the stream's state.
      if (msg.seq !== undefined) $("stages").textContent = `frame ${msg.seq}: ${msg.error}`;
      else status(`error: ${msg.error}`);
    }
  };
  ws.onclose = (event) => status(`disconnected${event.reason ? `: ${event.reason}` : ""}`);
}

main().catch((err) => status(`error: ${err.message}`));
