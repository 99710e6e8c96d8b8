"""10,000 concurrent idle WebSocket connections on one reference-server instance.

Starts the reference server (optimized profile, heartbeat on) in its own process, opens
``--connections`` WebSockets from ``--clients`` client processes (they answer the
server's heartbeat pings like a browser would), holds them, and measures:

- server memory per connection (RSS with N connections minus RSS before, divided by N);
- server CPU while it holds them (heartbeats included);
- the non-LLM round trip: ``ping`` -> ``pong`` latency from ``--pingers`` connections
  while all N are open (P50 / P95 / P99, goal P95 < 50 ms), measured ``--settle``
  seconds after the last connect;
- the garbage collector's pauses (they stop the event loop for every connection), during
  the ramp-up and during the measurement.

The same load then runs against a bare Starlette WebSocket echo on the same uvicorn
settings, so the table shows what the realtime layer costs over the minimum.

    .venv/bin/python benchmarks/ws_connections.py                  # 10k, both servers
    .venv/bin/python benchmarks/ws_connections.py --connections 2000 --only chatopt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "ws-benchmark-secret"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- server role ---------------------------------------------------------------------


def bare_app():
    """The minimum: a Starlette WebSocket that answers ping with pong, nothing else."""
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    async def echo(websocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = json.loads(message.get("text") or "{}")
            if frame.get("type") == "ping":
                await websocket.send_text(json.dumps({"type": "pong", "ts": frame.get("ts")}))

    return Starlette(routes=[WebSocketRoute("/ws", echo)])


def chatopt_app(connections: int, heartbeat_s: float, workdir: str):
    from reference_server.app import create_app
    from reference_server.settings import settings_for_profile

    settings = settings_for_profile(
        "optimized", secret=SECRET, ws_heartbeat_s=heartbeat_s, ws_max_connections=connections + 100,
        database_url=f"sqlite+aiosqlite:///{workdir}/bench.db", llm_base_url="http://127.0.0.1:9/v1",
    )
    return create_app(settings)


class GcPauses:
    """Garbage-collector pauses of this process, by generation (they stall the event loop)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self.started) * 1000)

    def reset(self) -> None:
        self.pauses = {0: [], 1: [], 2: []}

    def summary(self) -> dict:
        figures = {f"gen{g}": {"count": len(p), "max_ms": round(max(p, default=0.0), 1),
                               "total_ms": round(sum(p), 1)} for g, p in self.pauses.items()}
        figures["tracked_objects"] = len(gc.get_objects())
        figures["frozen_objects"] = gc.get_freeze_count()
        return figures


def serve(kind: str, port: int, connections: int, heartbeat_s: float, stats: Path | None) -> None:
    import logging
    import signal

    import uvicorn

    raise_fd_limit()
    logging.disable(logging.INFO)
    pauses = GcPauses()
    with tempfile.TemporaryDirectory() as workdir:
        app = chatopt_app(connections, heartbeat_s, workdir) if kind == "chatopt" else bare_app()
        if stats is not None:
            signal.signal(signal.SIGUSR2, lambda *_: pauses.reset())
            signal.signal(signal.SIGUSR1, lambda *_: stats.write_text(json.dumps(pauses.summary())))
        uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", ws="websockets-sansio",
                    log_level="warning", backlog=4096, access_log=False)


# --- client role ---------------------------------------------------------------------


async def client(url: str, count: int, pingers: int, ping_s: float, interval_s: float, deflate: bool) -> None:
    import websockets

    connections: list = []
    waiting: dict[int, asyncio.Future] = {}
    heartbeats = 0
    errors = 0
    gate = asyncio.Semaphore(64)

    async def reader(index: int, ws) -> None:
        nonlocal heartbeats
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] == "ping":
                    heartbeats += 1
                    await ws.send('{"type":"pong"}')
                elif frame["type"] == "pong" and index in waiting:
                    waiting.pop(index).set_result(time.perf_counter())
        except websockets.ConnectionClosed:
            pass

    async def open_one(index: int) -> None:
        nonlocal errors
        async with gate:
            for _ in range(3):
                try:
                    ws = await websockets.connect(url, open_timeout=60, ping_interval=None, max_queue=8,
                                                  compression="deflate" if deflate else None)
                except (OSError, TimeoutError, websockets.InvalidHandshake):
                    errors += 1
                    await asyncio.sleep(0.5)
                    continue
                connections.append(ws)
                asyncio.get_running_loop().create_task(reader(index, ws))
                return

    await asyncio.gather(*(open_one(i) for i in range(count)))
    print(json.dumps({"connected": len(connections), "connect_errors": errors}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"

    samples: list[float] = []
    lost = 0

    async def pinger(index: int, ws) -> None:
        nonlocal lost
        deadline = time.perf_counter() + ping_s
        await asyncio.sleep(interval_s * index / max(1, pingers))  # spread the pings out
        while time.perf_counter() < deadline:
            future = asyncio.get_running_loop().create_future()
            waiting[index] = future
            sent = time.perf_counter()
            try:
                await ws.send(json.dumps({"type": "ping", "ts": sent}))
                answered = await asyncio.wait_for(future, 5)
                samples.append((answered - sent) * 1000)
            except (TimeoutError, websockets.ConnectionClosed):
                waiting.pop(index, None)
                lost += 1
            await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - sent)))

    await asyncio.gather(*(pinger(i, ws) for i, ws in enumerate(connections[:pingers])))
    still_open = sum(1 for ws in connections if ws.state.name == "OPEN")
    outcome = {"samples_ms": samples, "lost": lost, "heartbeats": heartbeats, "still_open": still_open}
    print(json.dumps(outcome), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "close"
    for ws in connections:
        ws.transport.abort()


# --- orchestration -------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def token() -> str:
    from reference_server.auth import issue_token

    return issue_token(SECRET, "bench-user")


def dump_gc_pauses(server: subprocess.Popen, stats: Path) -> dict:
    """The server's GC pause figures so far (it writes them to ``stats`` on SIGUSR1)."""
    stats.unlink(missing_ok=True)
    server.send_signal(signal.SIGUSR1)
    for _ in range(50):
        if stats.exists():
            with contextlib.suppress(ValueError):
                return json.loads(stats.read_text())
        time.sleep(0.1)
    return {}


def run_one(kind: str, args: argparse.Namespace) -> dict:
    import psutil

    port = free_port()
    me = str(Path(__file__).resolve())
    stats = Path(tempfile.mkdtemp()) / "gc.json"
    server = subprocess.Popen([sys.executable, me, "--role", "server", "--kind", kind, "--port", str(port),
                               "--connections", str(args.connections), "--heartbeat", str(args.heartbeat),
                               "--stats", str(stats)])
    clients: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        process = psutil.Process(server.pid)
        time.sleep(1.0)
        rss_idle = process.memory_info().rss
        url = f"ws://127.0.0.1:{port}/ws?token={token()}"
        share, extra = divmod(args.connections, args.clients)
        pingers_each = max(1, args.pingers // args.clients)
        started = time.monotonic()
        for index in range(args.clients):
            count = share + (1 if index < extra else 0)
            clients.append(subprocess.Popen(
                [sys.executable, me, "--role", "client", "--url", url, "--count", str(count),
                 "--pingers", str(pingers_each), "--ping-s", str(args.hold), "--interval", str(args.interval),
                 "--compression", args.compression],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            ))
        opened = [json.loads(c.stdout.readline()) for c in clients]
        connect_s = time.monotonic() - started
        connected = sum(o["connected"] for o in opened)
        time.sleep(args.settle)
        rss_held = process.memory_info().rss
        ramp_pauses = dump_gc_pauses(server, stats)
        process.cpu_percent(None)
        cpu_started = process.cpu_times()
        server.send_signal(signal.SIGUSR2)  # from here on, count GC pauses of the hold only
        for c in clients:
            c.stdin.write("go\n")
            c.stdin.flush()
        results = [json.loads(c.stdout.readline()) for c in clients]
        cpu_ended = process.cpu_times()
        cpu_pct = process.cpu_percent(None)
        rss_end = process.memory_info().rss
        gc_pauses = dump_gc_pauses(server, stats)
        for c in clients:
            c.stdin.write("close\n")
            c.stdin.flush()
        for c in clients:
            c.wait(timeout=60)
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    samples = [s for r in results for s in r["samples_ms"]]
    return {
        "server": kind,
        "connections": connected,
        "connect_errors": sum(o["connect_errors"] for o in opened),
        "connect_s": round(connect_s, 1),
        "rss_idle_mb": round(rss_idle / 2**20, 1),
        "rss_held_mb": round(max(rss_held, rss_end) / 2**20, 1),
        "kib_per_connection": round((max(rss_held, rss_end) - rss_idle) / max(1, connected) / 1024, 1),
        "server_cpu_pct": round(cpu_pct, 1),
        "server_cpu_s": round(sum(cpu_ended[:2]) - sum(cpu_started[:2]), 2),
        "pings": len(samples),
        "lost_pings": sum(r["lost"] for r in results),
        "heartbeats_answered": sum(r["heartbeats"] for r in results),
        "still_open": sum(r["still_open"] for r in results),
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "ramp_gc_gen2_count": ramp_pauses.get("gen2", {}).get("count"),
        "ramp_gc_gen2_max_ms": ramp_pauses.get("gen2", {}).get("max_ms"),
        "gc_gen2_count": gc_pauses.get("gen2", {}).get("count"),
        "gc_gen2_max_ms": gc_pauses.get("gen2", {}).get("max_ms"),
        "gc_gen1_max_ms": gc_pauses.get("gen1", {}).get("max_ms"),
        "gc_tracked_objects": gc_pauses.get("tracked_objects"),
    }


def render(rows: list[dict], args: argparse.Namespace) -> None:
    fields = ["connections", "connect_errors", "connect_s", "rss_idle_mb", "rss_held_mb",
              "kib_per_connection", "server_cpu_pct", "server_cpu_s", "pings", "lost_pings",
              "heartbeats_answered", "still_open", "p50_ms", "p95_ms", "p99_ms", "ramp_gc_gen2_count",
              "ramp_gc_gen2_max_ms", "gc_gen2_count", "gc_gen2_max_ms", "gc_gen1_max_ms",
              "gc_tracked_objects"]
    names = [r["server"] for r in rows]
    print(f"\n{args.connections} idle WebSockets, heartbeat {args.heartbeat:g}s, settle {args.settle:g}s, "
          f"hold {args.hold:g}s, "
          f"{args.pingers} pingers every {args.interval:g}s, compression {args.compression}")
    header = f"{'':22}" + "".join(f"{n:>14}" for n in names) + ("      ratio" if len(rows) == 2 else "")
    print(header)
    for field in fields:
        values = [r[field] for r in rows]
        line = f"{field:22}" + "".join(f"{v:>14}" for v in values)
        if len(rows) == 2 and isinstance(values[1], (int, float)) and values[1]:
            line += f"{values[0] / values[1]:>10.2f}x"
        print(line)
    ours = rows[0]
    if ours["server"] == "chatopt":
        verdict = "meets" if ours["p95_ms"] < 50 else "MISSES"
        print(f"\nping/pong P95 at {ours['connections']} connections: {ours['p95_ms']} ms "
              f"({verdict} the < 50 ms goal)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["bench", "server", "client"], default="bench")
    parser.add_argument("--kind", choices=["chatopt", "bare"], default="chatopt")
    parser.add_argument("--only", choices=["chatopt", "bare"], help="run one server instead of both")
    parser.add_argument("--port", type=int)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="server heartbeat (ws_heartbeat_s)")
    parser.add_argument("--hold", type=float, default=30.0,
                        help="seconds of pinging while all are open (one heartbeat by default)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds between the last connect and the measurement (heartbeats run)")
    parser.add_argument("--pingers", type=int, default=200, help="connections that measure ping/pong")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between a pinger's pings")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate",
                        help="permessage-deflate as browsers negotiate it, or none")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url")
    parser.add_argument("--count", type=int)
    parser.add_argument("--ping-s", type=float)
    args = parser.parse_args()

    if args.role == "server":
        serve(args.kind, args.port, args.connections, args.heartbeat, args.stats)
        return
    raise_fd_limit()
    if args.role == "client":
        import uvloop

        uvloop.run(client(args.url, args.count, args.pingers, args.ping_s, args.interval,
                          args.compression == "deflate"))
        return
    kinds = [args.only] if args.only else ["chatopt", "bare"]
    rows = []
    for kind in kinds:
        print(f"running {kind} ...", file=sys.stderr, flush=True)
        rows.append(run_one(kind, args))
    render(rows, args)
    print(f"\nload: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
