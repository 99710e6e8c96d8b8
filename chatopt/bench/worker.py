"""A load-generator worker process: ``python -m chatopt.bench.worker --master-host H``.

It connects to a chatopt master (``chatopt bench --workers N`` starts these itself;
``chatopt bench --worker`` runs one on another machine), receives the run spec, runs
its share of the users or arrivals, ships raw samples with every report and a final
batch with its counters when the master says to drain.
"""

from __future__ import annotations

import argparse
import time

import gevent
import locust  # noqa: F401  (gevent patching first)
import psutil
from locust.env import Environment

from chatopt.bench.collector import Collector
from chatopt.bench.runner import (
    DONE_MESSAGE,
    DRAIN_MESSAGE,
    SPEC_MESSAGE,
    preload_tokenizer,
    quiet_garbage_collector,
)
from chatopt.bench.users import RunContext, RunSpec, make_user_classes


def run_worker(master_host: str, master_port: int) -> None:
    """Serve one master until it quits."""
    collector = Collector(model=None, worker="worker")
    context = RunContext(collector)
    environment = Environment(user_classes=make_user_classes(context))
    runner = environment.create_worker_runner(master_host, master_port)
    process = psutil.Process()
    process.cpu_percent(None)

    def on_spec(environment: Environment, msg: object) -> None:
        spec = RunSpec.model_validate_json(msg.data)  # type: ignore[attr-defined]
        preload_tokenizer(spec)
        quiet_garbage_collector()
        context.spec = spec
        collector.model = spec.target.model
        collector.worker = f"worker-{max(0, runner.worker_index)}"

    def report_done() -> None:
        counters = {"arrivals": collector.arrivals, "dropped": collector.dropped, "late": collector.late}
        runner.send_message(DONE_MESSAGE, {"rows": collector.take_unsent(), "counters": counters, "cpu": []})

    def report_when_schedule_ends() -> None:
        while not collector.schedule_done:
            gevent.sleep(0.05)
        report_done()

    def on_test_start(**_: object) -> None:
        collector.start()
        if context.spec is not None and context.spec.load.mode == "open":
            gevent.spawn(report_when_schedule_ends)

    def on_report(client_id: str, data: dict) -> None:
        data["chatopt_rows"] = collector.take_unsent()
        percent = process.cpu_percent(None)
        data["chatopt_cpu"] = percent
        collector.users = runner.user_count

    def on_drain(environment: Environment, msg: object) -> None:
        collector.accepting = False
        deadline = time.perf_counter() + float(msg.data.get("grace_s", 30.0))  # type: ignore[attr-defined]
        while collector.inflight > 0 and time.perf_counter() < deadline:
            gevent.sleep(0.05)
        report_done()

    runner.register_message(SPEC_MESSAGE, on_spec)
    runner.register_message(DRAIN_MESSAGE, on_drain, concurrent=True)
    environment.events.test_start.add_listener(on_test_start)
    environment.events.report_to_master.add_listener(on_report)
    runner.greenlet.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--master-host", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, default=5557)
    args = parser.parse_args()
    run_worker(args.master_host, args.master_port)


if __name__ == "__main__":
    main()
