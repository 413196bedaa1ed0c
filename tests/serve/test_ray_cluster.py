"""`stargan-rt serve --ray` on a real 2-node Ray cluster on this machine (ray.cluster_utils.Cluster): two replicas
on two nodes both answer; killing one replica's node under load leaves no request without an answer; the service
keeps answering and, given a new node, runs two replicas again."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import ray  # in the test install path: make setup-test installs the ray extra
from ray.cluster_utils import Cluster
from websockets.sync.client import connect

from stargan_rt.serve.live import unpack_frame

from .conftest import STARGAN_RT

# Without the first, Ray swaps 127.0.0.1 for the machine's address and hangs here; the second keeps it offline.
# The third: every node is this machine, so the proxy's preference for replicas on its own node means nothing and
# would send all sequential requests to the head's replica.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0"}
FAST_FAILURE_DETECTION = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def translate(port: int, body: bytes, timeout: float = 60) -> tuple[str, str]:
    """(status or the exception's name, the node that answered) of one POST /v1/translate."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/translate?target=Blond_Hair&format=jpeg", body=body)
        resp = conn.getresponse()
        resp.read()
        return str(resp.status), resp.getheader("X-Served-By", "")
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, ""
    finally:
        conn.close()


def node_of(served_by: str) -> str:
    m = re.match(r"ray node (\w+)", served_by)
    return m.group(1) if m else ""


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.mark.slow
def test_two_replicas_on_two_nodes_answer_and_a_lost_node_loses_no_request_without_an_answer(photo, monkeypatch):
    for k, v in RAY_ENV.items():
        monkeypatch.setenv(k, v)
    port, body = free_port(), photo[1]
    # One CPU per node and one per replica (the command's default): exactly one replica on each node.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "_system_config": FAST_FAILURE_DETECTION})
    worker = cluster.add_node(num_cpus=1)
    cli = None
    try:
        cluster.wait_for_nodes()
        cli = subprocess.Popen(
            [*STARGAN_RT, "serve", "--ray", "--address", cluster.address, "--replicas", "2", "--port", str(port),
             "--max-inflight", "2", "--max-streams", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **RAY_ENV})
        line = cli.stdout.readline() if cli.stdout else ""
        assert f"serving http://127.0.0.1:{port}/ on Ray Serve (2 replica(s)" in line, line

        head = cluster.head_node.node_id[:12]
        seen: set[str] = set()
        wait_for(lambda: seen.add(node_of(translate(port, body)[1])) or {head, worker.node_id[:12]} <= seen, 60,
                 "replicas on both nodes to answer")

        # The stream goes through Ray's proxy to a replica too (the same app).
        with connect(f"ws://127.0.0.1:{port}/v1/stream?target=Blond_Hair", open_timeout=30) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            ws.send(body)
            header, _ = unpack_frame(ws.recv(timeout=60))
            assert header["faces"] == 1 and header["target"] == "Blond_Hair x1.0"

        results: list[tuple[float, str, str]] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                status, by = translate(port, body)
                results.append((time.monotonic(), status, node_of(by)))
                if status == "503":
                    time.sleep(0.25)  # full: back off as Retry-After asks (shortened to keep the test short)

        clients = [threading.Thread(target=client, daemon=True) for _ in range(3)]
        for t in clients:
            t.start()
        time.sleep(2)
        killed_at = time.monotonic()
        cluster.remove_node(worker)  # the raylet and everything on that node die at once
        # The service keeps answering from the head's replica...
        wait_for(lambda: sum(1 for t, s, n in results if t > killed_at + 5 and s == "200" and n == head) >= 5, 60,
                 "answers after the node was lost")
        # ...and with a node to spare, the lost replica comes back there.
        spare = cluster.add_node(num_cpus=1)
        wait_for(lambda: any(n == spare.node_id[:12] for _, s, n in results if s == "200"), 90,
                 "a replica on the new node")
        stop.set()
        for t in clients:
            t.join(90)
    finally:
        if cli is not None:
            cli.send_signal(signal.SIGINT)
            try:
                cli.wait(30)
            except subprocess.TimeoutExpired:
                cli.kill()
        ray.shutdown()
        cluster.shutdown()

    statuses = [s for _, s, _ in results]
    during = [s for t, s, _ in results if t > killed_at]
    print(f"{len(statuses)} requests under load: " + ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses)))
          + f"; after the kill: {len(during)} ({during.count('200')} answered 200)")
    # Every request got an HTTP answer (an error status at worst): no reset connection, no timeout, no hang.
    timeline = [(round(t - killed_at, 1), s, n[:4]) for t, s, n in results]
    assert set(statuses) <= {"200", "500", "502", "503"}, timeline
    lost = [s for t, s, _ in results if killed_at < t < killed_at + 10 and s in ("500", "502")]
    print(f"error answers in the 10 s after the kill: {len(lost)}; timeline (s after the kill, status, node):")
    print(" ".join(f"{t:+.1f}:{s}:{n}" for t, s, n in timeline))
    assert cli.returncode == 0
