"""The render pool serves stream segments by deadline and renders in fair turns, and never starves either."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from avatar_service.render_pool import RenderPool


def run(coroutine):
    """A fresh event loop in its own thread (the browser tests' Playwright keeps one running in this one)."""
    with ThreadPoolExecutor(1) as runner:
        return runner.submit(asyncio.run, coroutine).result()


def test_a_late_owner_runs_before_an_earlier_owners_backlog():
    order: list[str] = []

    def work(name: str) -> str:
        time.sleep(0.02)
        order.append(name)
        return name

    async def main():
        pool = RenderPool(1)
        backlog = [asyncio.ensure_future(pool.run("stream-a", work, f"a{i}")) for i in range(5)]
        await asyncio.sleep(0)  # a0 is on the thread now, a1..a4 wait
        late = asyncio.ensure_future(pool.run("render-b", work, "b0"))
        results = await asyncio.gather(*backlog, late)
        pool.shutdown()
        return results

    assert run(main()) == ["a0", "a1", "a2", "a3", "a4", "b0"]
    assert order == ["a0", "b0", "a1", "a2", "a3", "a4"]


def test_workers_run_in_parallel_threads():
    threads: set[int] = set()
    barrier = threading.Barrier(2, timeout=5)

    def work() -> None:
        threads.add(threading.get_ident())
        barrier.wait()  # only returns if both tasks are running at once

    async def main():
        pool = RenderPool(2)
        await asyncio.gather(pool.run("a", work), pool.run("b", work))
        pool.shutdown()

    run(main())
    assert len(threads) == 2


def test_a_cancelled_waiting_task_never_runs_and_errors_reach_the_caller():
    ran: list[str] = []

    def work(name: str) -> None:
        time.sleep(0.02)
        ran.append(name)

    def fail() -> None:
        raise ValueError("bad segment")

    async def main():
        pool = RenderPool(1)
        first = asyncio.ensure_future(pool.run("a", work, "first"))
        dropped = asyncio.ensure_future(pool.run("a", work, "dropped"))
        await asyncio.sleep(0)
        dropped.cancel()
        await first
        with pytest.raises(ValueError, match="bad segment"):
            await pool.run("b", fail)
        assert pool.pending() == 0 and pool.running == 0
        pool.shutdown()

    run(main())
    assert ran == ["first"]


def served_order(*tasks: tuple[str, float | None]) -> list[str]:
    """The order one thread runs ``tasks`` in: (owner, deadline in seconds from now, or None for a render).
    The first holds the thread while the others are queued, in the order given."""
    order: list[str] = []

    def work(name: str) -> None:
        time.sleep(0.02)
        order.append(name)

    async def main():
        pool = RenderPool(1, http_allowance_s=1.0)
        now = asyncio.get_running_loop().time()
        futures = []
        for owner, due_in in tasks:
            deadline = None if due_in is None else now + due_in
            futures.append(asyncio.ensure_future(pool.run(owner, work, owner, deadline=deadline)))
            await asyncio.sleep(0)  # queued in this order
        await asyncio.gather(*futures)
        pool.shutdown()

    run(main())
    return order


def test_a_stream_about_to_run_dry_is_served_before_one_far_ahead():
    # queued first, the stream far ahead would go first in fair turns
    assert served_order(("render", None), ("ahead", 8.0), ("dry", 0.3)) == ["render", "dry", "ahead"]


def test_a_render_goes_before_a_stream_far_ahead_and_after_one_about_to_run_dry():
    assert served_order(("first", None), ("ahead", 8.0), ("dry", 0.3), ("render", None)) == [
        "first", "dry", "render", "ahead",
    ]


def test_renders_still_get_turns_while_streams_are_always_about_to_run_dry():
    """Ten streams each re-queue a segment due 50 ms later as soon as the last one is done, for longer than
    the render's allowance: the render still runs once its allowance is spent, not after the streams."""
    order: list[str] = []

    def work(name: str) -> None:
        time.sleep(0.01)
        order.append(name)

    async def stream(pool: RenderPool, name: str) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            await pool.run(name, work, name, deadline=loop.time() + 0.05)

    async def main():
        pool = RenderPool(1, http_allowance_s=0.3)
        streams = [asyncio.ensure_future(stream(pool, f"s{i}")) for i in range(10)]
        await asyncio.sleep(0.05)
        queued = asyncio.get_running_loop().time()
        await pool.run("render", work, "render")
        waited = asyncio.get_running_loop().time() - queued
        await asyncio.gather(*streams)
        pool.shutdown()
        return waited

    waited = run(main())
    position = order.index("render")
    assert waited >= 0.25, waited  # the streams' segments due before the render's allowance ran out went first
    assert position < len(order) - 100, (position, len(order))  # and then it ran, long before the streams ended


def test_a_task_knows_how_many_wait_behind_it_when_it_starts():
    waiting_now: list[int] = []
    seen_at_start: list[int] = []

    def work(name: str) -> str:
        seen_at_start.append(waiting_now[-1])
        time.sleep(0.02)
        return name

    async def main():
        pool = RenderPool(1, on_waiting=waiting_now.append)
        await asyncio.gather(*(pool.run(f"render-{i}", work, str(i)) for i in range(3)))
        pool.shutdown()

    run(main())
    # The first starts before the others arrive, the second with the third behind it, the third with none.
    assert seen_at_start == [0, 1, 0] and waiting_now[-1] == 0
