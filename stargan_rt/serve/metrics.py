"""Prometheus metrics of one replica (GET /metrics): requests, latency, queue depth, streams, drops, stage times.

Each Service has its own registry, so several apps in one process (tests, Ray replicas) never share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Latency buckets (seconds) around what one CPU image costs (~30-300 ms) and what a GPU one does (~1-10 ms).
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("stargan_http_requests", "HTTP requests answered", ["route", "status"], registry=r)
        self.latency = Histogram("stargan_http_request_seconds", "HTTP request latency", ["route"],
                                 buckets=BUCKETS, registry=r)
        self.inflight = Gauge("stargan_inflight_requests", "translate requests in flight (queue depth)", registry=r)
        self.rejected = Counter("stargan_rejected", "requests refused at once", ["reason"], registry=r)
        self.stage_seconds = Histogram("stargan_stage_seconds", "time per pipeline stage", ["stage"],
                                       buckets=BUCKETS, registry=r)
        self.streams = Gauge("stargan_streams_active", "live streams open", registry=r)
        self.stream_frames = Counter("stargan_stream_frames", "stream frames", ["outcome"], registry=r)

    def text(self) -> bytes:
        return generate_latest(self.registry)
