"""Run a load test with locust as a library: one process, local worker processes, or machines.

* one process: a locust ``LocalRunner`` drives the chat users;
* ``workers=N``: a ``MasterRunner`` here and N ``python -m chatopt.bench.worker`` processes;
* ``expect_workers=N``: a master that waits for N workers started elsewhere
  (``chatopt bench --worker --master-host H``).

The master sends each worker the run spec, workers ship their raw samples back with
every locust report and once more when they drain, so the master's percentiles are
exact. At the end of the duration nobody starts a new request; requests in flight get
a bounded grace period to finish, then everything stops. Importing this module patches
the process for gevent (locust does), so import it only in the process that runs load.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import gevent
import locust  # noqa: F401  (patches sockets and threads for gevent)
import psutil
from locust.env import Environment
from locust.runners import Runner

from chatopt import tokens as token_counter
from chatopt.bench.collector import Collector, LiveStats
from chatopt.bench.selfcheck import SelfCheck, check_generator
from chatopt.bench.users import RunContext, RunSpec, make_user_classes, user_class_name
from chatopt.errors import ChatoptError
from chatopt.report.samples import Sample

SPEC_MESSAGE = "chatopt_spec"
DRAIN_MESSAGE = "chatopt_drain"
DONE_MESSAGE = "chatopt_done"
PROGRESS_INTERVAL_S = 0.5
WORKER_CONNECT_TIMEOUT_S = 30.0


@dataclass
class RunOutcome:
    """Raw samples and the generator's self-check of one run."""

    samples: list[Sample]
    duration_s: float
    check: SelfCheck
    interrupted: bool
    processes: int


class _Stop:
    """Set by Ctrl-C (SIGINT/SIGTERM): the run ends early but still reports."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, *_: object) -> None:
        self.requested = True


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _WorkerBook:
    """What the master heard from its workers."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.counters: dict[str, dict[str, int]] = {}
        self.lag_ms: list[float] = []
        self.done: set[str] = set()


def run_load(
    spec: RunSpec,
    *,
    on_progress: Callable[[LiveStats], None] | None = None,
    on_tick: Callable[[list[Sample], float], None] | None = None,
    expect_workers: int = 0,
    master_bind_host: str = "127.0.0.1",
    master_bind_port: int | None = None,
) -> RunOutcome:
    """Apply the spec's load to its target and return every sample; never runs past its deadline."""
    preload_tokenizer(spec)
    quiet_garbage_collector()
    stop = _Stop()
    handlers = []
    with contextlib.suppress(ValueError):  # only the main thread may install signal handlers
        handlers = [gevent.signal_handler(signal.SIGINT, stop), gevent.signal_handler(signal.SIGTERM, stop)]
    try:
        if spec.load.workers > 1 or expect_workers:
            return _run_distributed(
                spec, on_progress, on_tick, stop, expect_workers, master_bind_host, master_bind_port
            )
        return _run_local(spec, on_progress, on_tick, stop)
    finally:
        for handler in handlers:
            handler.cancel()


def quiet_garbage_collector() -> None:
    """Keep Python's GC from pausing the load for hundreds of ms.

    Raw samples are long-lived; with default thresholds full collections keep rescanning
    them and stall every in-flight request. Objects alive now are frozen out of
    collection and young-generation collections happen far less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


def preload_tokenizer(spec: RunSpec) -> None:
    """Load the token counter's vocabulary now: loading it mid-run would stall every request."""
    token_counter.get_encoding(token_counter.encoding_for_model(spec.target.model).encoding)


def _run_local(
    spec: RunSpec,
    on_progress: Callable[[LiveStats], None] | None,
    on_tick: Callable[[list[Sample], float], None] | None,
    stop: _Stop,
) -> RunOutcome:
    collector = Collector(model=spec.target.model)
    context = RunContext(collector, spec)
    environment = Environment(user_classes=make_user_classes(context))
    runner = environment.create_local_runner()
    cpu: list[float] = []
    process = psutil.Process()
    process.cpu_percent(None)

    def sample_cpu() -> None:
        while True:
            gevent.sleep(1.0)
            cpu.append(process.cpu_percent(None))

    sampler = gevent.spawn(sample_cpu)
    collector.start()
    try:
        elapsed = _drive(spec, runner, collector, on_progress, on_tick, stop)
        _drain(collector, spec)
    finally:
        sampler.kill()
        with gevent.Timeout(10, False):
            runner.quit()
    check = check_generator(
        cpu_percent=cpu,
        schedule_lag_ms=_lags(spec, collector.samples),
        dropped=collector.dropped,
        late=collector.late,
        arrivals=collector.arrivals,
        processes=1,
        open_loop=spec.load.mode == "open",
    )
    return RunOutcome(collector.samples, elapsed, check, stop.requested, 1)


def _lags(spec: RunSpec, samples: list[Sample]) -> list[float]:
    if spec.load.mode != "open":
        return []
    return [sample.schedule_lag_ms for sample in samples if sample.turn == 0]


def _drive(
    spec: RunSpec,
    runner: Runner,
    collector: Collector,
    on_progress: Callable[[LiveStats], None] | None,
    on_tick: Callable[[list[Sample], float], None] | None,
    stop: _Stop,
) -> float:
    """Start the users, follow the stages, report progress until the duration or Ctrl-C."""
    plan = spec.load
    class_name = user_class_name(spec)
    user_class = runner.environment.user_classes_by_name[class_name]
    if plan.mode == "open":
        runner.start(plan.workers, plan.workers, user_classes=[user_class])
    else:
        runner.start(plan.users_at(0.0), plan.spawn_rate, user_classes=[user_class])
    current_users = plan.users_at(0.0)
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < plan.duration_s and not stop.requested:
        gevent.sleep(min(PROGRESS_INTERVAL_S, max(0.01, plan.duration_s - elapsed)))
        elapsed = time.perf_counter() - started
        if plan.mode == "closed" and plan.stages:
            wanted = plan.users_at(elapsed)
            if wanted != current_users and wanted > 0:
                runner.start(wanted, plan.spawn_rate, user_classes=[user_class])
                current_users = wanted
        collector.users = runner.user_count if plan.mode == "closed" else collector.inflight
        if on_progress is not None:
            on_progress(collector.live(collector.users))
        if on_tick is not None:
            on_tick(collector.samples, elapsed)
    return min(time.perf_counter() - started, plan.duration_s)


def _drain(collector: Collector, spec: RunSpec) -> None:
    """Stop starting requests; give those in flight a bounded grace to finish."""
    collector.accepting = False
    deadline = time.perf_counter() + min(spec.target.timeout_s, 30.0)
    while collector.inflight > 0 and time.perf_counter() < deadline:
        gevent.sleep(0.05)


def _run_distributed(
    spec: RunSpec,
    on_progress: Callable[[LiveStats], None] | None,
    on_tick: Callable[[list[Sample], float], None] | None,
    stop: _Stop,
    expect_workers: int,
    bind_host: str,
    bind_port: int | None,
) -> RunOutcome:
    local_processes = spec.load.workers if not expect_workers else 0
    worker_count = expect_workers or spec.load.workers
    spec = spec.model_copy(update={"load": spec.load.model_copy(update={"workers": worker_count})})
    collector = Collector(model=spec.target.model, worker="master")
    context = RunContext(collector, spec)
    environment = Environment(user_classes=make_user_classes(context))
    port = bind_port or _free_port()
    runner = environment.create_master_runner(master_bind_host=bind_host, master_bind_port=port)
    book = _WorkerBook()

    def on_report(client_id: str, data: dict) -> None:
        collector.add_rows(data.get("chatopt_rows", []))
        if "chatopt_cpu" in data:
            book.cpu.setdefault(client_id, []).append(float(data["chatopt_cpu"]))

    def on_done(environment: Environment, msg: object) -> None:
        data = msg.data  # type: ignore[attr-defined]
        collector.add_rows(data.get("rows", []))
        book.counters[msg.node_id] = data.get("counters", {})  # type: ignore[attr-defined]
        book.cpu.setdefault(msg.node_id, []).extend(data.get("cpu", []))  # type: ignore[attr-defined]
        book.done.add(msg.node_id)  # type: ignore[attr-defined]

    environment.events.worker_report.add_listener(on_report)
    runner.register_message(DONE_MESSAGE, on_done)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(local_processes):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "chatopt.bench.worker",
                        "--master-host",
                        "127.0.0.1",
                        "--master-port",
                        str(port),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.perf_counter() + WORKER_CONNECT_TIMEOUT_S
        while runner.worker_count < worker_count:
            if time.perf_counter() > deadline or stop.requested:
                raise ChatoptError(
                    f"only {runner.worker_count} of {worker_count} load-generator workers connected",
                    hint=f"start them: chatopt bench --worker --master-host HOST --master-port {port}",
                )
            gevent.sleep(0.1)
        runner.send_message(SPEC_MESSAGE, spec.model_dump_json())
        gevent.sleep(0.2)
        collector.start()
        elapsed = _drive(spec, runner, collector, on_progress, on_tick, stop)
        if spec.load.mode == "open":
            # each worker runs its whole arrival schedule from its own start, then reports done
            deadline = time.perf_counter() + min(spec.target.timeout_s, 30.0) + 5.0
            while len(book.done) < worker_count and time.perf_counter() < deadline and not stop.requested:
                gevent.sleep(0.05)
        collector.accepting = False
        runner.send_message(DRAIN_MESSAGE, {"grace_s": min(spec.target.timeout_s, 30.0)})
        deadline = time.perf_counter() + min(spec.target.timeout_s, 30.0) + 5.0
        while len(book.done) < worker_count and time.perf_counter() < deadline:
            gevent.sleep(0.05)
    finally:
        with gevent.Timeout(10, False):
            runner.quit()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
    counters = book.counters.values()
    busiest = max(book.cpu.values(), key=lambda values: sum(values) / max(1, len(values)), default=[])
    reasons: list[str] = []
    if len(book.done) < worker_count:
        reasons.append(f"{worker_count - len(book.done)} worker(s) did not report their last samples")
    check = check_generator(
        cpu_percent=busiest,
        schedule_lag_ms=_lags(spec, collector.samples),
        dropped=sum(c.get("dropped", 0) for c in counters),
        late=sum(c.get("late", 0) for c in counters),
        arrivals=sum(c.get("arrivals", 0) for c in counters),
        processes=worker_count,
        open_loop=spec.load.mode == "open",
    )
    check.reasons.extend(reasons)
    return RunOutcome(collector.samples, elapsed, check, stop.requested, worker_count)
