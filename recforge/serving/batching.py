"""Dynamic batching: concurrent /recommend requests are scored in one model call.

Requests queue up; one worker takes everything queued and, while more requests are in flight
but not yet queued (received, still being parsed), waits for them up to ``max_wait``, then
scores the batch on one dedicated scoring thread (torch releases the GIL, so the event loop
keeps parsing the next requests meanwhile). Requests arriving while a batch is scored form
the next batch. A lone request is never held back: at concurrency 1 nothing else is in
flight, so the latency is that of the model call alone. The worker sleeps on the queue
(no polling), so an idle or single-client server spends no CPU on batching.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: environment variable carrying ``recforge serve --threads`` to worker processes
THREADS_ENV = "RECFORGE_SERVE_THREADS"


def set_scoring_threads(threads: int) -> None:
    """Torch intra-op threads for scoring. One by default: on a small machine the event loop
    (HTTP parsing, JSON) needs a core of its own, and OpenMP threads that lose their core to
    another process spin at every barrier (a batch of 8 took 40x one request on 2 busy cores)."""
    import torch

    torch.set_num_threads(threads)


class MicroBatcher:
    """Collects items for ``score(batch) -> results`` (one result or exception per item).

    Args:
        score: scores a list of items; returns one result (or an Exception) per item.
        max_batch: most items per call.
        max_wait: longest wait (seconds) for in-flight requests to join a batch.
        on_batch: called with each batch's size (the ``recforge_batch_size`` histogram).
    """

    def __init__(self, score: Callable[[list[Any]], list[Any]], max_batch: int = 64, max_wait: float = 0.002,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.on_batch = on_batch
        self.in_flight = 0  # /recommend requests received and not yet submitted (set by the app)
        self.queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recforge-scoring")

    async def submit(self, item: Any) -> Any:
        """Queue ``item`` and wait for its result (its exception is raised here)."""
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((item, future))
        result = await future
        if isinstance(result, Exception):
            raise result
        return result

    async def _collect(self) -> list[tuple[Any, asyncio.Future[Any]]]:
        assert self.queue is not None
        batch = [await self.queue.get()]
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch:
            if not self.queue.empty():
                batch.append(self.queue.get_nowait())
                continue
            left = deadline - time.perf_counter()
            if self.in_flight <= 0 or left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), left))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            if self.on_batch is not None:
                self.on_batch(len(batch))
            items = [b[0] for b in batch]
            try:
                results = await loop.run_in_executor(self.executor, self.score, items)
            except Exception as err:  # noqa: BLE001 - every waiter gets the failure
                results = [err] * len(batch)
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
