"""The same app on Ray Serve: `@serve.ingress` over create_app, one model per replica, replicas spread over nodes.

    from ray import serve
    serve.run(application(ServeConfig(), replicas=2), name="stargan-rt", route_prefix="/")

Nothing here handles a request: each replica builds the ASGI app of app.py (its own Service, so its own model,
request slots and metrics; GET /metrics reports the replica that answers it). A replica is sent at most as many
requests as it has slots; translate requests beyond its request slots (while stream slots are free) are answered
503 + Retry-After by the app at once, as on one machine. A model path must exist on every node (the embedded
default model ships in the package).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from .service import ServeConfig

APP_NAME = "stargan-rt"


def application(config: ServeConfig, *, replicas: int = 1, max_replicas: int | None = None,
                gpus_per_replica: float = 0.0, cpus_per_replica: float = 1.0,
                actor_options: dict[str, Any] | None = None) -> Any:
    """A bound Ray Serve application (pass to serve.run); max_replicas > replicas turns on autoscaling."""
    from ray import serve

    def build_asgi_app() -> Any:  # evaluated on each replica, in its own process
        import ray

        from .app import create_app

        node = ray.get_runtime_context().get_node_id()
        return create_app(dataclasses.replace(config, served_by=f"ray node {node[:12]} pid {os.getpid()}"))

    if max_replicas is not None and max_replicas > replicas:
        scaling: dict[str, Any] = {"autoscaling_config": {
            "min_replicas": replicas, "max_replicas": max_replicas,
            "target_ongoing_requests": max(1, config.max_inflight // 2),
        }}
    else:
        scaling = {"num_replicas": replicas}
    ingress = serve.ingress(build_asgi_app)()
    deployment: Any = serve.deployment(
        ingress, name="StarGan",
        ray_actor_options={"num_cpus": cpus_per_replica, "num_gpus": gpus_per_replica, **(actor_options or {})},
        # Ray's router learns each replica's real capacity (request slots + stream slots; a stream holds one for
        # as long as it is open), so a full replica gets no more and its proxy's preference for local replicas
        # spills over to other nodes; when every replica is full Ray holds a short queue, then answers 503 itself.
        max_ongoing_requests=config.max_inflight + config.max_streams,
        max_queued_requests=config.max_inflight,
        graceful_shutdown_timeout_s=10,
        **scaling,
    )
    return deployment.bind()
