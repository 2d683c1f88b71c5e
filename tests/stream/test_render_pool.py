"""The render pool gives owners turns round-robin, so one owner's backlog never starves another."""

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
