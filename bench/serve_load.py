"""Bounded load check of the latent explorer: concurrent /api/decode requests on loopback.

Starts `vaekit serve RUN_DIR` in one process on a free 127.0.0.1 port, then sends N decode
requests (random latent codes, a fixed seed) from this process with C concurrent workers, and
reports requests/s and p50/p99 latency in milliseconds. Traffic goes to 127.0.0.1 only; the
number of requests and the time are both bounded, and the server is stopped at the end.

    python -m bench.serve_load RUN_DIR [--requests 2000] [--concurrency 8] [--timeout 120]

Without RUN_DIR it trains a small digits model (latent 8, a few seconds) into a temporary folder.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import script_parser

HOST = "127.0.0.1"  # loopback only, by design


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited early:\n{proc.stdout.read().decode(errors='replace')}")
        try:
            urllib.request.urlopen(url + "/api/info", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within its start-up limit")


def post_json(url: str, body: dict, timeout: float) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        return response.status


def run_load(url: str, latent_dim: int, requests: int, concurrency: int, limit_s: float) -> dict:
    """Send up to ``requests`` decode requests with ``concurrency`` workers, stopping at ``limit_s``."""
    import numpy as np

    codes = np.random.default_rng(0).normal(size=(requests, latent_dim)).round(4).tolist()
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    deadline = time.monotonic() + limit_s

    def one(i: int) -> None:
        nonlocal failures
        if time.monotonic() > deadline:
            return
        t0 = time.perf_counter()
        try:
            ok = post_json(url + "/api/decode", {"z": codes[i]}, timeout=30) == 200
        except OSError:
            ok = False
        elapsed = time.perf_counter() - t0
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                failures += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "requests_ok": len(latencies),
        "failures": failures,
        "concurrency": concurrency,
        "wall_s": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 1) if wall > 0 else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
    }


def main() -> None:
    parser = script_parser(__file__, __doc__)
    parser.add_argument("run_dir", nargs="?", help="A trained run folder (default: train a small digits model).")
    parser.add_argument("--requests", type=int, default=2000, help="Decode requests to send (the bound on count).")
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight at once.")
    parser.add_argument("--timeout", type=float, default=120.0, help="Stop sending after this many seconds.")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be >= 1")

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir
        if run_dir is None:
            import vaekit

            run_dir = str(Path(tmp) / "digits")
            vaekit.train(data="digits", latent_dim=8, epochs=5, out=run_dir, progress="quiet")
        port = free_port()
        url = f"http://{HOST}:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "vaekit.cli", "serve", run_dir, "--host", HOST, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(url, proc)
            with urllib.request.urlopen(url + "/api/info", timeout=5) as response:
                latent_dim = json.loads(response.read())["latent_dim"]
            run_load(url, latent_dim, min(50, args.requests), args.concurrency, args.timeout)  # warm-up
            report = run_load(url, latent_dim, args.requests, args.concurrency, args.timeout)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    report = {"run_dir": run_dir if args.run_dir else "(small digits model, latent 8)", **report}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
