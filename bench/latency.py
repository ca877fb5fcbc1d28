"""Latency, throughput, cold start and memory of the app, against a trivial echo app.

Starts ``python app.py`` (the bundled model) and ``bench/echo_app.py`` (same endpoints,
components and queue settings, handlers that answer at once) on free loopback ports, and
measures with gradio_client, as an API user would:

* sequential p50/p95/p99 of ``/predict`` and ``/predict_sketch``, app and echo requests
  alternating (both see the same background load), and ratios;
* 8 and 32 concurrent clients (one ``Client`` each, ``--requests`` requests each to
  ``/predict``, ``--sketch-requests`` to ``/predict_sketch``):
  throughput, percentiles and errors, app and echo, and ratios;
* model cost per image in this process, warmed up and with one BLAS thread as served:
  normalization + model, normalization alone, the model alone for one image (mean and
  median) and per image in a batch of 100;
* cold start: process start to the first successful prediction (and to the port opening);
* the server processes' CPU time per request (from ``/proc/PID/stat``);
* peak memory: the server process's peak RSS (``VmHWM`` in ``/proc/PID/status``);
* a ``/predict_batch`` call of 100 images (a zip archive, and a list of files; median of 3)
  against 100 ``/predict`` calls.

Prints one JSON object, with each target and whether it was met. Loopback only; a few
minutes (``--quick`` for a smoke run).

    python bench/latency.py [--requests 50] [--sketch-requests 10] [--sequential 100] [--quick]
"""

from __future__ import annotations

import os.path
import sys

# Run as a script, bench/ would be the first import root: make the project root the first instead.
_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_BENCH)] + [p for p in sys.path if os.path.abspath(p or ".") != _BENCH]

import argparse  # noqa: E402
import json
import os
import platform
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402

from digitrec.cli import whole_number  # noqa: E402

TEST_DATA = ROOT / "tests" / "data"
IMAGES = [TEST_DATA / "ink_3.png", TEST_DATA / "ink_4.jpg", *sorted((ROOT / "examples").glob("digit_*.png"))]
SKETCH = TEST_DATA / "sketch_7.png"
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 120.0
BATCH_SIZE = 100
BATCH_REPEATS = 3

TARGETS = {  # name: (comparison, bound)
    "sequential_p50_ratio_predict": ("<=", 1.1),
    "throughput_ratio_32_clients_predict": (">=", 0.9),
    "errors": ("==", 0),
    "cold_start_s": ("<=", 10.0),
    "peak_rss_mb": ("<=", 600.0),
    "model_only_ms_per_image": ("<=", 2.0),
    "batch_vs_single_throughput_ratio": (">=", 20.0),
}


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process on loopback; ``cold_start_s`` is process start to first good prediction."""

    def __init__(self, name: str, script: Path, extra_env: dict[str, str] | None = None):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITREC_MODEL_", "GRADIO_"))}
        env.update(GRADIO_ANALYTICS_ENABLED="False", GRADIO_SERVER_NAME="127.0.0.1",
                   GRADIO_SERVER_PORT=str(self.port), **(extra_env or {}))
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.started = time.perf_counter()
        self.port_open_s = float("nan")
        self.process = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.cold_start_s = self._first_prediction()

    def _first_prediction(self) -> float:
        from gradio_client import Client, handle_file

        deadline = self.started + START_TIMEOUT
        # A cheap poll (a bare TCP connect) until the port accepts: an HTTP client per try
        # would burn the CPU the starting server needs (two cores here).
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {Path(self.log.name).read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                self.port_open_s = time.perf_counter() - self.started
                break
            except OSError:
                time.sleep(0.05)
        while time.perf_counter() < deadline:  # ...then the first prediction, as a user would ask for it
            try:
                Client(self.url, verbose=False).predict(handle_file(str(IMAGES[0])), api_name="/predict")
                return time.perf_counter() - self.started
            except Exception:
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} gave no prediction within {START_TIMEOUT} s")

    def cpu_s(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        os.unlink(self.log.name)


# -- measurements ------------------------------------------------------------------------------------


def payload(api_name: str, i: int):
    from gradio_client import handle_file

    if api_name == "/predict_sketch":
        return {"background": None, "layers": [], "composite": handle_file(str(SKETCH))}
    return handle_file(str(IMAGES[i % len(IMAGES)]))


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ms = np.asarray(latencies) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "mean_ms": round(float(ms.mean()), 2)}


def timed_calls(client, api_name: str, count: int, offset: int = 0) -> tuple[list[float], list[str]]:
    latencies, errors = [], []
    for i in range(count):
        started = time.perf_counter()
        try:
            client.submit(payload(api_name, offset + i), api_name=api_name).result(timeout=REQUEST_TIMEOUT)
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # counted, and the first few reported
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    return latencies, errors


def sequential(servers: list[Server], api_name: str, count: int) -> dict[str, dict]:
    """``count`` requests to each server one after another, alternating between servers."""
    from gradio_client import Client

    clients = {server.name: Client(server.url, verbose=False) for server in servers}
    for client in clients.values():
        timed_calls(client, api_name, 10)  # warm-up
    latencies: dict[str, list[float]] = {name: [] for name in clients}
    errors: dict[str, list[str]] = {name: [] for name in clients}
    cpu = {server.name: -server.cpu_s() for server in servers}
    for i in range(count):
        for name, client in clients.items():
            lat, err = timed_calls(client, api_name, 1, offset=i)
            latencies[name] += lat
            errors[name] += err
    for server in servers:
        cpu[server.name] += server.cpu_s()
    return {name: {**summary(latencies[name]), "requests": count, "errors": len(errors[name]),
                   "server_cpu_ms_per_request": round(cpu[name] / count * 1000.0, 2),
                   "error_samples": errors[name][:3]} for name in clients}


def concurrent(server: Server, api_name: str, clients: int, per_client: int) -> dict:
    from gradio_client import Client

    connected = [Client(server.url, verbose=False) for _ in range(clients)]
    results: list[tuple[list[float], list[str]]] = [([], [])] * clients
    start = threading.Barrier(clients + 1)

    def run(k: int) -> None:
        start.wait()
        results[k] = timed_calls(connected[k], api_name, per_client, offset=k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began, cpu = time.perf_counter(), server.cpu_s()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - began, server.cpu_s() - cpu
    latencies = [t for lat, _ in results for t in lat]
    errors = [e for _, err in results for e in err]
    return {"clients": clients, "requests": clients * per_client, "wall_s": round(wall, 2),
            "throughput_rps": round(len(latencies) / wall, 2), **summary(latencies),
            "server_cpu_ms_per_request": round(cpu / (clients * per_client) * 1000.0, 2),
            "errors": len(errors), "error_samples": errors[:3]}


def model_cost() -> dict:
    """Per-image cost in this process, on the same images the servers get, with one BLAS thread as served."""
    from threadpoolctl import threadpool_limits

    from digitrec import load_model

    with threadpool_limits(limits=1, user_api="blas"):
        return _model_cost(load_model())


def _model_cost(classifier) -> dict:
    files = [IMAGES[i % len(IMAGES)] for i in range(BATCH_SIZE)]
    for path in files:  # warm-up, as a running server is: the first calls after loading are slower
        classifier.predict_proba(path)

    started = time.perf_counter()
    normalized = [classifier.normalize(path) for path in files]
    normalize_s = time.perf_counter() - started

    started = time.perf_counter()
    for path in files:
        classifier.predict_proba_normalized(classifier.normalize(path)[None])
    both_s = time.perf_counter() - started

    batch = np.stack(normalized)
    single = []
    for image in batch:
        started = time.perf_counter()
        classifier.predict_proba_normalized(image[None])
        single.append(time.perf_counter() - started)
    single_s = sum(single)

    started = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        classifier.predict_proba_normalized(batch)
    batched_s = (time.perf_counter() - started) / repeats

    per = lambda seconds: round(seconds / len(files) * 1000.0, 3)  # noqa: E731
    return {"normalize_and_model_ms_per_image": per(both_s), "normalize_ms_per_image": per(normalize_s),
            "model_only_ms_single_image": per(single_s),
            "model_only_ms_single_image_median": round(float(np.median(single)) * 1000.0, 3),
            "model_only_ms_per_image_in_batch_of_100": per(batched_s)}


def batch_vs_single(server: Server) -> dict:
    """A 100-image ``/predict_batch`` call against 100 ``/predict`` calls, all with gradio_client.

    The batch is sent as the README advises, one zip archive (its making is timed too),
    and also as a list of 100 files: gradio_client uploads each file in its own request,
    with a new HTTP client each, which costs more than classifying the image. A batch call
    is one sample of half a second, so each is timed ``BATCH_REPEATS`` times (median).
    """
    from gradio_client import Client, handle_file

    client = Client(server.url, verbose=False)
    paths = [IMAGES[i % len(IMAGES)] for i in range(BATCH_SIZE)]
    files = [handle_file(str(p)) for p in paths]
    client.predict(files[:5], api_name="/predict_batch")  # warm-up

    def zipped_call(workdir: Path) -> list:
        archive = workdir / "batch.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for i, path in enumerate(paths):
                zipped.write(path, f"{i:03d}{path.suffix}")
        return client.submit([handle_file(str(archive))], api_name="/predict_batch").result(timeout=REQUEST_TIMEOUT)

    with tempfile.TemporaryDirectory() as workdir:
        zip_s, zipped_results = median_call(lambda: zipped_call(Path(workdir)))
    list_s, listed_results = median_call(
        lambda: client.submit(files, api_name="/predict_batch").result(timeout=REQUEST_TIMEOUT))
    singles, errors = timed_calls(client, "/predict", BATCH_SIZE)
    single_s = sum(singles)
    assert len(zipped_results) == len(listed_results) == BATCH_SIZE
    assert [r["label"] for r in zipped_results] == [r["label"] for r in listed_results]
    return {"batch_of_100_zip_s": round(zip_s, 3), "batch_of_100_files_s": round(list_s, 3),
            "100_single_calls_s": round(single_s, 3), "throughput_ratio": round(single_s / zip_s, 2),
            "throughput_ratio_list_of_files": round(single_s / list_s, 2), "errors": len(errors)}


def median_call(call) -> tuple[float, object]:
    """The median wall time of ``BATCH_REPEATS`` calls of ``call()``, and the last call's result."""
    times = []
    for _ in range(BATCH_REPEATS):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), result


def progress(section: str, value) -> None:
    """Each result on stderr as soon as it is measured (stdout gets the one JSON object at the end)."""
    print(f"{section}: {json.dumps(value)}", file=sys.stderr, flush=True)


def check(value: float, comparison: str, bound: float) -> bool:
    return {"<=": value <= bound, ">=": value >= bound, "==": value == bound}[comparison]


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=whole_number(1), default=50,
                        help="requests per concurrent client (default 50)")
    parser.add_argument("--sketch-requests", type=whole_number(1), default=10,
                        help="requests per concurrent client to /predict_sketch (default 10)")
    parser.add_argument("--sequential", type=whole_number(1), default=100,
                        help="sequential requests per endpoint and server (default 100)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few requests")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.sketch_requests, args.sequential = 5, 3, 20

    import gradio
    from digitrec.normalize import max_image_pixels
    from digitrec.settings import Settings

    began = time.perf_counter()
    # /predict_batch takes 100 images here; everything else is the app's default configuration.
    extra = {"DIGITREC_MAX_BATCH": str(BATCH_SIZE)}
    app = Server("app", ROOT / "app.py", extra)  # one at a time, so cold starts do not compete
    echo = Server("echo", ROOT / "bench" / "echo_app.py", extra)
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "load_average_1min_at_start": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "gradio": gradio.__version__},
        "settings": {**{k: v for k, v in Settings.from_env({**os.environ, **extra}).__dict__.items()
                        if k in ("max_file_size", "max_batch", "queue_size", "concurrency")},
                     "max_image_pixels": max_image_pixels()},
        "cold_start_s": {"app": round(app.cold_start_s, 2), "echo": round(echo.cold_start_s, 2),
                         "app_port_open_s": round(app.port_open_s, 2), "echo_port_open_s": round(echo.port_open_s, 2)},
    }
    try:
        report["sequential"] = {}
        for api_name in ("/predict", "/predict_sketch"):
            measured = sequential([app, echo], api_name, args.sequential)
            a, e = measured["app"], measured["echo"]
            report["sequential"][api_name] = {"app": a, "echo": e, "p50_ratio": round(a["p50_ms"] / e["p50_ms"], 3),
                                              "p50_extra_ms": round(a["p50_ms"] - e["p50_ms"], 2)}
            progress(f"sequential {api_name}", report["sequential"][api_name])
        report["concurrent"] = {}
        for clients in (8, 32):
            report["concurrent"][str(clients)] = {}
            for api_name in ("/predict", "/predict_sketch"):
                per_client = args.requests if api_name == "/predict" else args.sketch_requests
                a = concurrent(app, api_name, clients, per_client)
                e = concurrent(echo, api_name, clients, per_client)
                report["concurrent"][str(clients)][api_name] = {
                    "app": a, "echo": e, "throughput_ratio": round(a["throughput_rps"] / e["throughput_rps"], 3)}
                progress(f"concurrent {clients} {api_name}", report["concurrent"][str(clients)][api_name])
        report["batch"] = batch_vs_single(app)
        progress("batch", report["batch"])
        report["peak_rss_mb"] = {"app": app.peak_rss_mb(), "echo": echo.peak_rss_mb()}
    finally:
        app.stop()
        echo.stop()
    report["model"] = model_cost()

    errors = sum(r["errors"] for r in report["sequential"].values() for r in (r["app"], r["echo"]))
    errors += sum(r["errors"] for c in report["concurrent"].values() for r in c.values() for r in (r["app"], r["echo"]))
    errors += report["batch"]["errors"]
    values = {
        "sequential_p50_ratio_predict": report["sequential"]["/predict"]["p50_ratio"],
        "throughput_ratio_32_clients_predict": report["concurrent"]["32"]["/predict"]["throughput_ratio"],
        "errors": errors,
        "cold_start_s": report["cold_start_s"]["app"],
        "peak_rss_mb": report["peak_rss_mb"]["app"],
        "model_only_ms_per_image": report["model"]["model_only_ms_single_image"],
        "batch_vs_single_throughput_ratio": report["batch"]["throughput_ratio"],
    }
    report["targets"] = {name: {"value": values[name], "target": f"{op} {bound}", "met": check(values[name], op, bound)}
                         for name, (op, bound) in TARGETS.items()}
    report["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    report["duration_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
