"""One pool of render threads shared by HTTP renders and streams, handing out turns round-robin by owner.

Piper is CPU-bound and releases the GIL inside onnxruntime, so ``workers`` threads use that many cores. A plain
executor runs tasks first-come first-served: one stream that queued ten segments would make every other
stream and HTTP render wait behind all ten. Here each owner (a stream, or one HTTP render job) has its own
FIFO and a turn number, and a free thread takes the next task of the owner whose turn is earliest. An owner
served gets the newest turn; an owner that arrives (or comes back with new work) joins just ahead of the owner
served last — the start tag of start-time fair queuing (Goyal, Vin & Cheng 1996, "Start-time Fair Queueing"),
so a newcomer waits at most one task per busy owner. Scheduling happens on the event loop only: no locks.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(eq=False)  # identity: two tasks with equal fields are still two tasks
class _Task:
    owner: Hashable
    function: Callable[..., Any]
    args: tuple
    future: asyncio.Future


@dataclass
class _Owner:
    tasks: deque[_Task]
    turn: float
    running: int = 0


class RenderPool:
    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="render")
        self._owners: dict[Hashable, _Owner] = {}  # owners with tasks waiting or running
        self._turns = 0  # tasks started so far: the clock turns are measured on
        self.running = 0

    async def run(self, owner: Hashable, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on a render thread when ``owner``'s turn comes; cancelling drops it if it
        has not started (a task already inside Piper finishes on its own and its result is discarded)."""
        future = asyncio.get_running_loop().create_future()
        task = _Task(owner, function, args, future)
        state = self._owners.get(owner)
        if state is None:
            state = self._owners[owner] = _Owner(deque(), self._turns - 0.5)
        state.tasks.append(task)
        self._dispatch()
        try:
            return await future
        except asyncio.CancelledError:
            self._discard(task)
            raise

    def pending(self) -> int:
        return sum(len(state.tasks) for state in self._owners.values())

    def shutdown(self) -> None:
        for state in self._owners.values():
            for task in state.tasks:
                task.future.cancel()
        self._owners.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        while self.running < self.workers:
            ready = [state for state in self._owners.values() if state.tasks]
            if not ready:
                return
            state = min(ready, key=lambda candidate: candidate.turn)
            task = state.tasks.popleft()
            self._turns += 1
            state.turn = self._turns
            state.running += 1
            self.running += 1
            done = asyncio.get_running_loop().run_in_executor(self._executor, task.function, *task.args)
            done.add_done_callback(lambda finished, task=task: self._finished(task, finished))

    def _finished(self, task: _Task, finished: asyncio.Future) -> None:
        self.running -= 1
        state = self._owners.get(task.owner)
        if state is not None:
            state.running -= 1
            self._forget_if_idle(task.owner, state)
        if not task.future.done():
            if finished.cancelled():
                task.future.cancel()
            elif finished.exception() is not None:
                task.future.set_exception(finished.exception())
            else:
                task.future.set_result(finished.result())
        self._dispatch()

    def _discard(self, task: _Task) -> None:
        state = self._owners.get(task.owner)
        if state is not None and task in state.tasks:
            state.tasks.remove(task)
            self._forget_if_idle(task.owner, state)

    def _forget_if_idle(self, owner: Hashable, state: _Owner) -> None:
        """An owner with nothing waiting or running is forgotten; when it comes back it is a newcomer."""
        if not state.tasks and not state.running:
            del self._owners[owner]
