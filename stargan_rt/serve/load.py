"""A bounded closed-loop load on POST /v1/translate: N clients, each sending its next request when the last returns.

    python -m stargan_rt.serve.load http://127.0.0.1:8000 photo.jpg --clients 4 --requests 20 -t Blond_Hair

Prints one JSON line: requests/s of answered 200s, latency percentiles (ms) of those, and counts of 503s (the
server's overload answer) and of anything else. Standard library only (http.client, one connection per client).
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class LoadResult:
    clients: int
    sent: int = 0
    ok: int = 0
    rejected: int = 0  # 503: the server said it is full
    other: dict[str, int] = field(default_factory=dict)  # any other status, or a connection error
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = float("nan")
    p90_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def run_load(url: str, image: bytes, *, clients: int = 1, requests: int = 10, target: str = "Blond_Hair",
             params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
             timeout: float = 60.0) -> LoadResult:
    """`clients` threads send `requests` requests each; latencies of the 200s are kept."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    path = "/v1/translate?" + urllib.parse.urlencode({"target": target, **(params or {})})
    result, lock, latencies = LoadResult(clients), threading.Lock(), []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        start.wait()
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=image, headers={"Content-Type": "image/jpeg", **(headers or {})})
                resp = conn.getresponse()
                resp.read()
                status = str(resp.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            dt = time.perf_counter() - t0
            with lock:
                result.sent += 1
                if status == "200":
                    result.ok += 1
                    latencies.append(dt)
                elif status == "503":
                    result.rejected += 1
                    time.sleep(0.05)  # a client that honours Retry-After would wait longer; keep the run short
                else:
                    result.other[status] = result.other.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    result.rps = result.ok / result.seconds if result.seconds > 0 else 0.0
    if latencies:
        p50, p90, p99 = np.percentile(np.array(latencies) * 1e3, [50, 90, 99])
        result.p50_ms, result.p90_ms, result.p99_ms = float(p50), float(p90), float(p99)
        result.max_ms = max(latencies) * 1e3
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("image")
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--requests", type=int, default=20, help="per client")
    p.add_argument("--target", "-t", default="Blond_Hair")
    p.add_argument("--detector", "-d", help="haar or none (default: the server's)")
    p.add_argument("--format", default="jpeg")
    args = p.parse_args()
    params = {"format": args.format, **({"detector": args.detector} if args.detector else {})}
    with open(args.image, "rb") as f:
        image = f.read()
    res = run_load(args.url, image, clients=args.clients, requests=args.requests, target=args.target, params=params)
    print(json.dumps(res.to_dict()))


if __name__ == "__main__":
    main()
