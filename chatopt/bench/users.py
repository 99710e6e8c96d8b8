"""Locust users that speak chat: closed-loop conversations and an open-loop arrival scheduler.

Each simulated user runs scripted conversations from the scenario (server-kept history
through the returned conversation id, or client-sent history), pausing the scenario's
think time between turns. The open-loop user is one per generator process: it fires
arrivals at their scheduled times into a bounded greenlet pool, passing the scheduled
time as each first turn's start, and counts arrivals it had to drop.
"""

from __future__ import annotations

import itertools
import random
import time

import gevent
from gevent.pool import Pool
from locust import User, task
from pydantic import BaseModel

from chatopt.bench.client import ChatClient
from chatopt.bench.collector import Collector
from chatopt.bench.load import LoadPlan, arrival_offsets
from chatopt.bench.scenario import Scenario
from chatopt.targets import ChatExchange, Target

#: An open-loop send later than this against its schedule counts as a late arrival.
LATE_MS = 10.0


class RunSpec(BaseModel):
    """Everything a generator process needs to run its share of the load (JSON-serializable)."""

    target: Target
    scenario: Scenario
    load: LoadPlan
    seed: int = 1


def run_conversation(
    chat: ChatClient,
    collector: Collector,
    spec: RunSpec,
    rng: random.Random,
    user_id: str,
    *,
    events: object | None = None,
    first_start: float | None = None,
) -> None:
    """Play one scripted conversation, recording a sample per turn; stop at the first failure."""
    conversation = spec.scenario.pick(rng)
    messages = conversation.messages(rng)
    history: list[dict[str, str]] = []
    conversation_id: str | None = None
    for turn, message in enumerate(messages):
        if not collector.accepting:
            return
        collector.inflight += 1
        try:
            exchange = chat.send(
                message,
                conversation_id=conversation_id,
                user_id=user_id,
                history=history,
                started=first_start if turn == 0 else None,
            )
        finally:
            collector.inflight -= 1
        collector.record(exchange, conversation=conversation.name, turn=turn)
        _fire_locust_event(events, exchange, spec.target.name)
        if not exchange.ok:
            return
        conversation_id = exchange.conversation_id or conversation_id
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": exchange.answer}]
        if turn < len(messages) - 1:
            gevent.sleep(spec.scenario.think(rng))


def _fire_locust_event(events: object | None, exchange: ChatExchange, name: str) -> None:
    """Tell locust's own statistics about the request (kept for locust tooling and plugins)."""
    if events is None:
        return
    events.request.fire(  # type: ignore[attr-defined]
        request_type="CHAT",
        name=name,
        response_time=exchange.e2e_s * 1000,
        response_length=len(exchange.answer),
        exception=None if exchange.ok else RuntimeError(exchange.error),
        context={},
    )


class RunContext:
    """The spec and collector of this process; a remote worker receives its spec after start-up."""

    def __init__(self, collector: Collector, spec: RunSpec | None = None) -> None:
        self.collector = collector
        self.spec = spec

    def require_spec(self) -> RunSpec:
        if self.spec is None:
            raise RuntimeError("the master has not sent the run spec yet")
        return self.spec


def user_class_name(spec: RunSpec) -> str:
    """Which user class drives this run's load mode."""
    return "ArrivalScheduler" if spec.load.mode == "open" else "ChatUser"


def make_user_classes(context: RunContext) -> list[type[User]]:
    """Both chat user classes, bound to this process's run context."""
    counter = itertools.count()
    collector = context.collector

    class ChatUser(User):
        """A person chatting: a conversation, think time, another conversation."""

        def wait_time(self) -> float:
            return context.require_spec().scenario.think(self.rng)

        def on_start(self) -> None:
            spec = context.require_spec()
            number = next(counter)
            self.rng = random.Random(spec.seed * 1_000_003 + number + hash(collector.worker) % 997)
            self.user_id = f"chatopt-{collector.worker}-{number}"
            self.chat = ChatClient(spec.target)

        def on_stop(self) -> None:
            self.chat.close()

        @task
        def converse(self) -> None:
            if collector.accepting:
                spec = context.require_spec()
                run_conversation(
                    self.chat, collector, spec, self.rng, self.user_id, events=self.environment.events
                )

    class ArrivalScheduler(User):
        """Open loop: arrivals on a fixed schedule, each a new conversation."""

        def wait_time(self) -> float:
            return 3600.0

        @task
        def schedule(self) -> None:
            spec = context.require_spec()
            seed = spec.seed * 7919 + hash(collector.worker) % 7919
            pool = Pool(spec.load.max_inflight)
            chat = ChatClient(spec.target, concurrency=spec.load.max_inflight)
            rng = random.Random(seed)
            try:
                for number, offset in enumerate(
                    arrival_offsets(spec.load, share=1 / spec.load.workers, seed=seed)
                ):
                    due = collector.run_start + offset
                    delay = due - time.perf_counter()
                    if delay > 0:
                        gevent.sleep(delay)
                    if not collector.accepting:
                        break
                    collector.arrivals += 1
                    if pool.full():
                        collector.dropped += 1
                        continue
                    if (time.perf_counter() - due) * 1000 > LATE_MS:
                        collector.late += 1
                    pool.spawn(
                        run_conversation,
                        chat,
                        collector,
                        spec,
                        random.Random(rng.random()),
                        f"chatopt-{collector.worker}-{number}",
                        events=self.environment.events,
                        first_start=due,
                    )
                pool.join()
                collector.schedule_done = True
            finally:
                chat.close()

    return [ChatUser, ArrivalScheduler]
