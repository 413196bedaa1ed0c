"""`stargan-rt serve`: the app on this machine (uvicorn), or on a Ray cluster with `--ray`.

Registered through the `stargan_rt.commands` entry points; FastAPI, uvicorn and Ray are imported only when the
command runs, so `import stargan_rt` and the other commands never load the web stack.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

from ..argtypes import non_negative_float, port, positive_float, positive_int
from ..commands import Sub, _model_args
from ..errors import BadInput

if TYPE_CHECKING:
    from .service import ServeConfig


def register(sub: Sub) -> None:
    p = sub.add_parser(
        "serve", help="translation as a service (HTTP, a live WebSocket stream, a webcam page), here or on Ray",
        description="Serve the model over HTTP: POST /v1/translate (an image in, the translated image out), "
        "WS /v1/stream (live frames, newest only), GET /v1/model, /healthz, /metrics, and a webcam page at /. "
        "Binds to 127.0.0.1 unless --host says otherwise. With --ray the same app runs on Ray Serve.",
    )
    _model_args(p, detector="auto")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port, default=8000, help="port (default 8000; 0 picks a free one, without --ray)")
    p.add_argument("--detect-every", type=positive_int, default=1, metavar="N", help="streams: detect faces every Nth frame")
    p.add_argument("--max-inflight", type=positive_int, default=4, metavar="N",
                   help="translate requests at once per replica; more are answered 503 at once (default 4)")
    p.add_argument("--max-streams", type=positive_int, default=4, metavar="N", help="live streams at once per replica (default 4)")
    p.add_argument("--max-upload-mb", type=positive_float, default=8.0, metavar="MB", help="upload limit (default 8)")
    p.add_argument("--max-megapixels", type=positive_float, default=16.8, metavar="MP", help="decoded image limit (default 16.8)")
    p.add_argument("--token-file", metavar="PATH",
                   help="require the bearer token in this file (or set STARGAN_RT_TOKEN) for /v1/* and /metrics")
    ray = p.add_argument_group("Ray Serve (--ray)")
    ray.add_argument("--ray", action="store_true", help="deploy on Ray Serve instead of one uvicorn process")
    ray.add_argument("--address", help="a running cluster: auto or HOST:PORT (default: start Ray on this machine)")
    ray.add_argument("--replicas", type=positive_int, default=1, help="replicas, one model each (default 1)")
    ray.add_argument("--max-replicas", type=positive_int, help="autoscale between --replicas and this many")
    ray.add_argument("--gpus-per-replica", type=non_negative_float, default=0.0, metavar="G", help="GPUs per replica (default 0)")
    ray.add_argument("--cpus-per-replica", type=positive_float, default=1.0, metavar="C", help="CPUs per replica (default 1)")
    p.set_defaults(func=run_serve)


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        try:
            token = open(args.token_file, encoding="utf-8").readline().strip()
        except OSError as exc:
            raise BadInput(f"{args.token_file}: cannot read the token ({exc.strerror})") from None
        if not token:
            raise BadInput(f"{args.token_file}: the token file is empty")
        return token
    return os.environ.get("STARGAN_RT_TOKEN") or None


def config_from(args: argparse.Namespace) -> ServeConfig:
    from .service import ServeConfig

    return ServeConfig(
        model=args.model, backend=args.backend, threads=args.threads, detector=args.detector,
        source_attrs=args.source_attrs, paste_reference=args.paste_reference, detect_every=args.detect_every,
        max_inflight=args.max_inflight,
        max_streams=args.max_streams, max_upload_bytes=int(args.max_upload_mb * (1 << 20)),
        max_pixels=int(args.max_megapixels * 1e6), token=_token(args),
    )


def run_serve(args: argparse.Namespace) -> int:
    from .._optional import require

    for module in ("fastapi", "uvicorn", "PIL", "prometheus_client"):
        require(module, "stargan-rt serve")
    config = config_from(args)
    if args.ray:
        return _run_on_ray(config, args)
    import uvicorn

    from .app import create_app

    try:  # bound here, so a busy port is one line and --port 0 can report the port it got
        sock = socket.create_server((args.host, args.port))
    except OSError as exc:
        raise BadInput(f"cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    app = create_app(config)  # loads the model: a bad --model fails before anything listens
    host, port = sock.getsockname()[:2]
    svc = app.state.service
    print(f"backend: {svc.runner.describe()}", file=sys.stderr)
    print(f"serving http://{host}:{port}/ (webcam page; API: POST /v1/translate, WS /v1/stream, GET /v1/model, "
          f"/healthz, /metrics){'; bearer token required' if config.token else ''}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=config.max_upload_bytes + 4096,
                                           timeout_graceful_shutdown=5))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down gracefully: a normal stop
        pass
    print("stargan-rt serve: stopped", file=sys.stderr)
    return 0


def _run_on_ray(config: ServeConfig, args: argparse.Namespace) -> int:
    from .._optional import require

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting home from a server
    ray = require("ray", "stargan-rt serve --ray")
    require("ray.serve", "stargan-rt serve --ray")
    from ray import serve

    from .ray_app import APP_NAME, application

    if args.port == 0:
        raise BadInput("--ray needs a fixed --port (Ray's proxy cannot pick one)")
    ray.init(address=args.address, logging_level="warning")
    try:
        # One proxy, on the head node: every node's proxy would compete for the port on a one-machine cluster.
        serve.start(proxy_location="HeadOnly", http_options={"host": args.host, "port": args.port})
        serve.run(application(config, replicas=args.replicas, max_replicas=args.max_replicas,
                              gpus_per_replica=args.gpus_per_replica, cpus_per_replica=args.cpus_per_replica),
                  name=APP_NAME, route_prefix="/")
        print(f"serving http://{args.host}:{args.port}/ on Ray Serve ({args.replicas} replica(s)"
              f"{f', up to {args.max_replicas}' if args.max_replicas else ''}); Ctrl-C stops", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        serve.delete(APP_NAME)
    finally:
        if not args.address:  # the Ray started here goes with us; a cluster we joined stays
            serve.shutdown()
        ray.shutdown()
    return 0
