"""`avatar-service serve`: the API, the embedded queue, the web demo and the audio files in one process."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP API with the web demo (http://HOST:PORT/)",
        description=(
            "Serve the render API, the web demo at / and the audio at /audio. Renders run in-process "
            "(RENDER_WORKERS threads) unless QUEUE=valkey or VALKEY_HOST is set, in which case "
            "`avatar-service worker` processes render them. Configuration comes from environment variables."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from avatar_service.api import create_app
    from avatar_service.api.connections import guarded_protocol, header_limits
    from avatar_service.config import Settings
    from avatar_service.pipeline import Renderer

    settings = Settings()
    logging.getLogger().setLevel(settings.log_level.upper())
    renderer = Renderer(settings)
    renderer.default_voice_id()  # a DEFAULT_VOICE that is not installed stops here with one line
    app = create_app(settings, renderer)
    # One process on purpose: the embedded queue's de-duplication and job states live in it.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        http=guarded_protocol(header_limits(settings)),
    )
    return 0
