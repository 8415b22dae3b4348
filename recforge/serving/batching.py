"""Dynamic batching: concurrent /recommend requests are scored in one model call.

Requests queue up; one worker takes what is queued and, while more requests are in flight
(already received, not yet queued), waits up to ``max_wait`` for them, then scores the batch
in a thread (torch releases the GIL). A lone request is never held back: at concurrency 1
the latency is that of the model call alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class MicroBatcher:
    """Collects items for ``score(batch) -> results`` (one result or exception per item).

    Args:
        score: scores a list of items; returns one result (or an Exception) per item.
        max_batch: most items per call.
        max_wait: longest wait (seconds) for in-flight requests to join a batch.
    """

    def __init__(self, score: Callable[[list[Any]], list[Any]], max_batch: int = 64, max_wait: float = 0.002,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.on_batch = on_batch
        self.in_flight = 0  # requests received and not yet answered (set by the app)
        self.queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] | None = None
        self.worker: asyncio.Task[None] | None = None

    async def submit(self, item: Any) -> Any:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put((item, future))
        result = await future
        if isinstance(result, Exception):
            raise result
        return result

    async def _run(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = time.perf_counter() + self.max_wait
            while len(batch) < self.max_batch:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                waiting = self.in_flight - len(batch)
                if waiting <= 0 or time.perf_counter() >= deadline:
                    break
                await asyncio.sleep(0.0002)
            if self.on_batch is not None:
                self.on_batch(len(batch))
            items = [b[0] for b in batch]
            try:
                results = await loop.run_in_executor(None, self.score, items)
            except Exception as err:  # noqa: BLE001 - every waiter gets the failure
                results = [err] * len(batch)
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
