"""`avatar-service worker`: run render jobs from Valkey (start as many as the machines can hold)."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="render jobs from Valkey (scale-out mode)",
        description=(
            "Render jobs queued in Valkey by API instances running with QUEUE=valkey or VALKEY_HOST set. "
            "Connects with VALKEY_HOST/VALKEY_PORT/VALKEY_DB/VALKEY_PASSWORD and writes audio into "
            "DATA_DIR, which must be the directory the API serves /audio from. RENDER_WORKERS jobs run "
            "at once per worker process."
        ),
    )
    parser.add_argument(
        "--burst", action="store_true", help="exit once the queue is empty instead of waiting for jobs"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from avatar_service.config import Settings
    from avatar_service.queue.worker import serve

    settings = Settings()
    # arq reports each job (start, end, retry) at INFO; that log is the worker's audit trail.
    logging.getLogger().setLevel(settings.log_level.upper())
    try:
        asyncio.run(serve(settings, burst=args.burst))
    except asyncio.CancelledError:
        pass  # SIGTERM/SIGINT: running jobs were handed back to the queue
    return 0
