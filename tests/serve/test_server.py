"""`stargan-rt serve` as a real process on 127.0.0.1: the API over a socket, overload, a bounded load of concurrent
clients with its latency percentiles recorded, a clean stop, and bad start-up arguments as one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from stargan_rt.serve.load import run_load

from .conftest import STARGAN_RT, ServerProcess


@pytest.fixture(scope="module")
def server():
    srv = ServerProcess("--max-inflight", "2", "--max-upload-mb", "1")
    yield srv
    code, err = srv.stop()
    assert code == 0 and "Traceback" not in err, err


def post(url: str, body: bytes, **params: str) -> tuple[int, dict[str, str], bytes]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    req = urllib.request.Request(f"{url}/v1/translate?{query}", data=body, method="POST",
                                 headers={"Content-Type": "image/jpeg"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_it_listens_on_loopback_only_by_default(server):
    assert server.url.startswith("http://127.0.0.1:")


def test_the_api_over_a_real_socket(server, photo):
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as resp:
        assert json.load(resp)["ok"] is True
    status, headers, body = post(server.url, photo[1], target="Blond_Hair", format="jpeg")
    assert status == 200 and headers["x-faces"] == "1" and body[:2] == b"\xff\xd8"
    status, _, body = post(server.url, photo[1], target="Blnd_Hair")
    assert status == 400 and b"did you mean Blond_Hair?" in body and b"\n" not in body
    status, _, body = post(server.url, b"\0" * (2 << 20), target="Male")
    assert status == 413 and json.loads(body)["error"].startswith("upload of 2097152 bytes is over the limit")


def test_more_simultaneous_requests_than_slots_get_503_and_retry_after_the_rest_succeed(server, photo):
    n, results = 8, []
    start = threading.Barrier(n)

    def one() -> None:
        start.wait()
        results.append(post(server.url, photo[1], target="Male", format="jpeg"))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = sorted(r[0] for r in results)
    assert set(statuses) == {200, 503}, statuses  # nothing else: no queueing without limit, no failure
    assert all(r[1].get("retry-after") == "1" for r in results if r[0] == 503)


def test_a_bounded_load_of_concurrent_clients_is_answered_and_its_latency_recorded(server, photo, record_property):
    one = run_load(server.url, photo[1], clients=1, requests=8, params={"format": "jpeg"})
    four = run_load(server.url, photo[1], clients=4, requests=6, params={"format": "jpeg"})
    for res in (one, four):
        record_property(f"load_{res.clients}_clients", json.dumps(res.to_dict()))
        print(f"load {res.clients} client(s): {json.dumps(res.to_dict())}")
        assert res.other == {} and res.ok + res.rejected == res.sent == res.clients * (8 if res.clients == 1 else 6)
        assert res.ok > 0 and 0 < res.p50_ms <= res.p99_ms <= res.max_ms
    assert one.rejected == 0  # one client never finds two slots busy


def test_bad_start_up_arguments_are_one_line_and_exit_2(tmp_path):
    for args, words in ((["--max-inflight", "0"], "at least 1"), (["--model", str(tmp_path / "none")], "no such model"),
                        (["--detector", "sonar"], "unknown face detector"),
                        (["--token-file", str(tmp_path / "missing")], "cannot read the token")):
        r = subprocess.run([*STARGAN_RT, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.strip().splitlines()[-1].startswith("stargan-rt serve: error:")


def test_a_busy_port_is_one_line_and_exit_2():
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        r = subprocess.run([*STARGAN_RT, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr


def test_without_the_serve_extra_the_command_says_what_to_install():
    code = ("import sys; sys.modules['fastapi'] = None\n"  # as if FastAPI were not installed
            "from stargan_rt.cli import main; sys.exit(main(['serve']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "pip install 'stargan-rt[serve]'" in r.stderr and "Traceback" not in r.stderr


def test_importing_stargan_rt_and_building_the_cli_load_no_web_stack():
    code = ("import sys, stargan_rt\n"
            "from stargan_rt.cli import build_parser; build_parser().parse_args(['serve', '--ray'])\n"
            "heavy = [m for m in ('torch', 'fastapi', 'starlette', 'uvicorn', 'ray', 'prometheus_client') if m in sys.modules]\n"
            "sys.exit(f'imported {heavy}' if heavy else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr or r.stdout
