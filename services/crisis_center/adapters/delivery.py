"""At-least-once for the Faust worker: nothing is committed before what it caused has reached the broker.

Two gaps in faust-streaming 0.15.3 (read in its source) lost travellers across a graceful restart:

1. Table writes are produced with `send_soon` into `ProducerBuffer`; before committing offsets the consumer awaits
   `producer.flush()`, but `ProducerBuffer.flush_atmost` gives up when no message went out within 0.1 s
   (`asyncio.wait_for(..., timeout=0.1)`), so under load offsets were committed while changelog writes still sat
   in the buffer, and the buffer's task is cancelled at stop with them inside.
2. A stream acks the event in hand in its `finally`, also when the agent is cancelled at stop (`Agent.stop`), so an
   event whose handling was interrupted half-way (a table written, the forwarded command not yet produced) is
   committed by the consumer's final commit.

`DeliveringProducer.flush` (what every commit awaits) therefore first waits for the handling of events in flight
(run shielded by `InFlight`, so cancelling the agent does not interrupt them), then for the delivery of every
buffered message, then flushes aiokafka as before (records produced with `send` sit in its accumulator).

A third gap left records unhandled in a running worker until more traffic came to their partition:

3. At the end of a rebalance, `Recovery.on_recovery_completed` resumes the stream partitions, seeks them to their
   committed offsets (an await: the fetcher, whose flow is already active since the changelog recovery, delivers
   records meanwhile), then calls `flow_control.resume()`, which clears every stream buffer. Records read after
   the seek and waiting in a buffer are dropped; the consumer's position is past them, so they are not fetched
   again. Seen in ~1 restart in 10: the last registrations of a burst were never counted (`gaps` only notices
   a hole when a later record of the same partition arrives).

`seek_again_after_resume` seeks once more to the committed offsets after that clear (from
`CrisisApp.on_rebalance_end`), and to the beginning where the group never committed (Faust's seek leaves those
partitions alone, so records fetched before a group's first commit could be cleared and never read again: two
workers starting at once made no progress at all in 4 runs of 16); what was still in a buffer is handled twice,
which the handlers allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Producer
from faust.types import AppT, FutureMessage

from shared.logging import get_logger

log = get_logger(__name__)


class InFlight:
    """Handlings of events run as shielded tasks, so that a commit can wait for them to finish."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Future[Any]] = set()
        #: Work the handled events left to do before their offsets may be committed (`joiners.JoinerBatch.flush`)
        self.before_commit: list[Callable[[], Awaitable[None]]] = []

    async def run(self, handling: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(handling)  # copies the context: Faust's current event goes along
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        await asyncio.shield(task)

    async def settle(self) -> None:
        """Wait for the handlings under way now (not for later ones: under load there always is one)."""
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
        for finish in self.before_commit:  # an error fails the commit: the events are handled again
            await finish()


class DeliveringProducer(Producer):
    """Faust's aiokafka producer whose `flush` returns only when everything produced so far is delivered."""

    in_flight: InFlight

    def __init__(self, *args: Any, in_flight: InFlight, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = in_flight
        self._undelivered: set[FutureMessage] = set()

    def send_soon(self, fut: FutureMessage) -> None:
        self._undelivered.add(fut)
        fut.add_done_callback(self._undelivered.discard)
        super().send_soon(fut)

    async def deliver_all(self) -> None:
        """Wait for the events being handled, then for the buffered messages (changelog writes) to be acked.

        The offsets a commit carries were computed before its flush: their events have finished (or were
        interrupted, and are among the handlings under way), so what is under way and buffered now is enough;
        waiting for later ones would never end under load."""
        await self.in_flight.settle()
        if self._undelivered:
            # An exception here fails the commit: the events are handled again (at least once), never skipped.
            await asyncio.gather(*list(self._undelivered))

    async def flush(self) -> None:
        await self.deliver_all()
        await super().flush()

    async def on_stop(self) -> None:
        await self.deliver_all()
        await super().on_stop()


async def seek_again_after_resume(app: AppT, generation_id: int) -> None:
    """Read every stream partition again from its committed offset, or from its beginning where the group never
    committed (aiokafka's `seek_to_committed` leaves those partitions where they are, buffered records lost with
    them), unless another rebalance began meanwhile (it ends with this again)."""

    def superseded() -> bool:
        return app.should_stop or app.rebalancing or app.consumer_generation_id != generation_id

    if superseded():
        return
    consumer = cast(Consumer, app.consumer)
    try:
        committed = await consumer.seek_to_committed()
        changelogs = app.tables.changelog_topics
        streams = [tp for tp in committed if tp.topic not in changelogs]
        never = [tp for tp in streams if not committed[tp]]
        earliest = await consumer.earliest_offsets(*never) if never else {}
        for tp in streams:
            if superseded():
                return
            # Again for the committed ones: `seek_to_committed` moved aiokafka's position (a local change) but not
            # Faust's read offset, below which Faust drops what it fetches; `seek` sets both.
            await consumer.seek(tp, committed[tp] or earliest[tp])
    except Exception as exc:  # the next rebalance seeks again; never crash the worker for this
        log.warning("seek_after_rebalance_failed", error=type(exc).__name__)
