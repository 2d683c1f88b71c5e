"""One pool of render threads shared by HTTP renders and streams: streams by playback deadline, renders by fair turns.

Piper is CPU-bound and releases the GIL inside onnxruntime, so ``workers`` threads use that many cores. A plain
executor runs tasks first-come first-served: one stream that queued ten segments would make every other
stream and HTTP render wait behind all ten, and a stream seconds ahead of its listener would be served before
one about to run dry. Here each owner (a stream, or one HTTP render job) has its own FIFO, and a free thread
takes the task with the earliest deadline — earliest-deadline-first (Liu & Layland 1973, "Scheduling
Algorithms for Multiprogramming in a Hard-Real-Time Environment", J. ACM 20(1); without preemption, as here,
it is Jackson's rule, Jackson 1955). Deadlines:

- a stream's segment carries its own: the moment the audio already sent to its client runs out
  (docs/streaming.md, "Scheduling"), so a stream about to run dry goes before one seconds ahead;
- an HTTP render has none of its own. Among renders, turns stay fair: each render owner has a turn number,
  an owner served gets the newest turn, and an owner that arrives (or comes back with new work) joins just
  ahead of the owner served last — the start tag of start-time fair queuing (Goyal, Vin & Cheng 1996,
  "Start-time Fair Queueing"), so a newcomer waits at most one task per busy owner. The render whose turn it
  is then competes with the streams with the deadline ``queued + http_allowance_s``: streams that would run
  dry within that allowance go first, and a render never waits for streams much longer than it (a stream
  has one segment in the pool at a time, and each new segment's deadline lies after the moment it is queued).

Scheduling happens on the event loop only: no locks.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# An HTTP render competes with stream segments as if due this long (seconds) after it was queued: it waits
# for the segments of streams that would run dry within that time, and for no others. A short render takes
# ~0.2 s alone (README, "Performance"), so a second's wait is noticeable but not a timeout, while a stream
# gets a second of warning before it would run dry.
HTTP_ALLOWANCE_S = 1.0


@dataclass(eq=False)  # identity: two tasks with equal fields are still two tasks
class _Task:
    owner: Hashable
    function: Callable[..., Any]
    args: tuple
    future: asyncio.Future
    deadline: float | None  # a stream segment's playback deadline; None for a render (fair turns)
    queued: float


@dataclass
class _Owner:
    tasks: deque[_Task]
    turn: float
    running: int = 0


class RenderPool:
    def __init__(
        self,
        workers: int,
        http_allowance_s: float = HTTP_ALLOWANCE_S,
        on_waiting: Callable[[int], None] | None = None,
    ) -> None:
        """``on_waiting`` hears how many tasks wait for a thread whenever that changes (from the event loop), so
        that a task can tell whether it has the machine to itself (tts/engine.py ``PiperEngine.waiting``)."""
        self.workers = max(1, workers)
        self.http_allowance_s = http_allowance_s
        self._on_waiting = on_waiting
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="render")
        self._owners: dict[Hashable, _Owner] = {}  # owners with tasks waiting or running
        self._turns = 0  # tasks started so far: the clock turns are measured on
        self.running = 0

    async def run(self, owner: Hashable, function: Callable[..., T], *args: Any, deadline: float | None = None) -> T:
        """Run ``function(*args)`` on a render thread; cancelling drops it if it has not started (a task
        already inside Piper finishes on its own and its result is discarded).

        ``deadline`` (``loop.time()`` seconds) is when a stream segment's result is needed; without one the
        task is a render served in fair turns by ``owner``.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        task = _Task(owner, function, args, future, deadline, loop.time())
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
            state = self._next()
            if state is None:
                break
            task = state.tasks.popleft()
            self._turns += 1
            state.turn = self._turns
            state.running += 1
            self.running += 1
            self._tell_waiting()  # before the task starts, so that it sees what still waits behind it
            done = asyncio.get_running_loop().run_in_executor(self._executor, task.function, *task.args)
            done.add_done_callback(lambda finished, task=task: self._finished(task, finished))
        self._tell_waiting()

    def _tell_waiting(self) -> None:
        if self._on_waiting is not None:
            self._on_waiting(self.pending())

    def _next(self) -> _Owner | None:
        """The owner whose first task runs next: earliest deadline, a render's being its turn's queued + allowance."""
        ready = [state for state in self._owners.values() if state.tasks]
        renders = [state for state in ready if state.tasks[0].deadline is None]
        candidates = [state for state in ready if state.tasks[0].deadline is not None]
        if renders:
            candidates.append(min(renders, key=lambda candidate: candidate.turn))
        return min(candidates, key=self._deadline, default=None)

    def _deadline(self, state: _Owner) -> float:
        task = state.tasks[0]
        return task.queued + self.http_allowance_s if task.deadline is None else task.deadline

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
