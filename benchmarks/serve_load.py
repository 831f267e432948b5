"""A bounded load on ``e2gan serve`` over loopback: 200 edit requests from 8 concurrent clients through the real HTTP
API (``gradio_client``), then a burst over the queue's bound. Reports whether every request was answered, latency
percentiles, the server's peak memory (VmHWM of its process), and how a request over the queue's bound is answered.

    python -m benchmarks.serve_load            # writes benchmarks/serve_load.json and serve_load.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from e2gan.io import atomic_write_json, atomic_write_text

HERE = Path(__file__).parent


def start(model: str, port: int, queue: int) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "e2gan.cli", "serve", "--port", str(port), "--model", model, "--no-zoo", "--device", "cpu",
                             "--queue-size", str(queue)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"e2gan serve did not start: {proc.communicate()[0][-2000:]}")
            time.sleep(0.5)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, model: str, image: str, clients: int, requests: int, timeout: float = 600) -> dict:
    """``requests`` edits shared by ``clients`` threads, each with its own client: latencies and errors."""
    from gradio_client import Client, handle_file

    latencies, errors, lock = [], [], threading.Lock()
    todo = list(range(requests))

    def worker():
        client = Client(url, verbose=False)
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            t0 = time.perf_counter()
            try:
                client.predict(handle_file(image), model, 1.0, api_name="/edit_image")
                with lock:
                    latencies.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001  an answered error is an answer: count it with its message
                with lock:
                    errors.append(str(exc)[:200])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {"requests": requests, "clients": clients, "answered": len(latencies) + len(errors), "ok": len(latencies), "errors": len(errors),
            "error_examples": sorted(set(errors))[:3], "wall_s": round(wall, 2), "throughput_per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(pct(0.50), 1), "p90_ms": round(pct(0.90), 1), "p99_ms": round(pct(0.99), 1), "max_ms": round(pct(1.0), 1),
            "mean_ms": round(statistics.mean(lat) * 1000, 1) if lat else float("nan")}


def markdown(res: dict) -> str:
    a, b = res["load"], res["burst"]
    return "\n".join([
        "## `e2gan serve` under a bounded load (loopback, the real HTTP API)", "",
        f"Machine: {res['machine']}. Model `{res['model']}` at {res['size']}x{res['size']} px on the CPU, one edit at a time "
        f"(Gradio's queue: concurrency 1, at most {res['queue']} waiting). Server peak memory (VmHWM): **{res['peak_rss_mb']:.0f} MB**.", "",
        "| run | requests | clients | answered | ok | errors | p50 ms | p90 ms | p99 ms | max ms | edits/s |", "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| load | {a['requests']} | {a['clients']} | {a['answered']} | {a['ok']} | {a['errors']} | {a['p50_ms']} | {a['p90_ms']} | {a['p99_ms']} | "
        f"{a['max_ms']} | {a['throughput_per_s']} |",
        f"| burst over the queue's bound | {b['requests']} | {b['clients']} | {b['answered']} | {b['ok']} | {b['errors']} | {b['p50_ms']} | "
        f"{b['p90_ms']} | {b['p99_ms']} | {b['max_ms']} | {b['throughput_per_s']} |", "",
        "A request over the queue's bound is answered at once: " + ("; ".join(f"`{e}`" for e in b["error_examples"]) or "(none was over it)") + ".", ""])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="zoo:procedural-faded-red-accents")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--queue", type=int, default=16)
    ap.add_argument("--burst", type=int, default=40, help="simultaneous requests of the burst, against a queue of --burst-queue")
    ap.add_argument("--burst-queue", type=int, default=4)
    ap.add_argument("--out", default=str(HERE))
    a = ap.parse_args(argv)
    from PIL import Image

    from benchmarks.run import machine
    from e2gan.testing.net import free_port

    tmp = Path(tempfile.mkdtemp(prefix="e2gan-serve-load-"))
    yy, xx = np.mgrid[0:a.size, 0:a.size]
    Image.fromarray(np.stack([xx % 256, yy % 256, (xx * yy) % 256], -1).astype(np.uint8)).save(tmp / "photo.png")
    res = {"machine": machine(), "model": a.model, "size": a.size, "queue": a.queue}
    port = free_port()
    proc = start(a.model, port, a.queue)
    try:
        res["load"] = load(f"http://127.0.0.1:{port}/", a.model, str(tmp / "photo.png"), a.clients, a.requests)
        res["peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    port = free_port()
    proc = start(a.model, port, a.burst_queue)
    try:
        res["burst"] = load(f"http://127.0.0.1:{port}/", a.model, str(tmp / "photo.png"), a.burst, a.burst)
        res["burst"]["queue"] = a.burst_queue
    finally:
        proc.terminate()
        proc.wait(60)
    out = Path(a.out)
    atomic_write_json(out / "serve_load.json", res)
    atomic_write_text(out / "serve_load.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
