"""One pool of render threads shared by HTTP renders and streams, handing out turns round-robin by owner.

Piper is CPU-bound and releases the GIL inside onnxruntime, so ``workers`` threads use that many cores. A plain
executor runs tasks first-come first-served: one stream that queued ten segments would make every other
stream and HTTP render wait behind all ten. Here each owner (a stream, or one HTTP render job) has its own
FIFO, and a free thread takes the next task from the next owner in turn (round-robin, as in fair queuing:
Nagle 1987, "On Packet Switches with Infinite Storage"). Scheduling happens on the event loop only, so it
needs no locks.
"""

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(eq=False)  # identity: two tasks with equal fields are still two tasks
class _Task:
    function: Callable[..., Any]
    args: tuple
    future: asyncio.Future


class RenderPool:
    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="render")
        # Owners with waiting tasks, in turn order; an owner served goes to the back if it has more.
        self._waiting: OrderedDict[Hashable, deque[_Task]] = OrderedDict()
        self.running = 0

    async def run(self, owner: Hashable, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on a render thread when ``owner``'s turn comes; cancelling drops it if it
        has not started (a task already inside Piper finishes on its own and its result is discarded)."""
        future = asyncio.get_running_loop().create_future()
        task = _Task(function, args, future)
        self._waiting.setdefault(owner, deque()).append(task)
        self._dispatch()
        try:
            return await future
        except asyncio.CancelledError:
            self._discard(owner, task)
            raise

    def pending(self) -> int:
        return sum(len(tasks) for tasks in self._waiting.values())

    def shutdown(self) -> None:
        for tasks in self._waiting.values():
            for task in tasks:
                task.future.cancel()
        self._waiting.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        while self.running < self.workers and self._waiting:
            owner, tasks = next(iter(self._waiting.items()))
            task = tasks.popleft()
            del self._waiting[owner]
            if tasks:
                self._waiting[owner] = tasks  # back of the line
            if task.future.cancelled():
                continue
            self.running += 1
            done = asyncio.get_running_loop().run_in_executor(self._executor, task.function, *task.args)
            done.add_done_callback(lambda finished, task=task: self._finished(task, finished))

    def _finished(self, task: _Task, finished: asyncio.Future) -> None:
        self.running -= 1
        if not task.future.done():
            if finished.cancelled():
                task.future.cancel()
            elif finished.exception() is not None:
                task.future.set_exception(finished.exception())
            else:
                task.future.set_result(finished.result())
        self._dispatch()

    def _discard(self, owner: Hashable, task: _Task) -> None:
        tasks = self._waiting.get(owner)
        if tasks is not None and task in tasks:
            tasks.remove(task)
            if not tasks:
                del self._waiting[owner]
