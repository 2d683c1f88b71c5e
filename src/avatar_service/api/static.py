"""Files the API serves: the web demo at /, avatar packs (listed at /v1/avatars) and the audio at /audio.

Packs come from PACKS_DIR first (where `pack create` writes them), then from the player's own `avatars/` (the
shipped packs). Both are read on each request, so a pack made while the service runs shows up at once.
"""

import json
import logging
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Receive, Scope, Send

import avatar_service
from avatar_service.api.errors import PATH_LIMITS, error_response
from avatar_service.api.models import AvatarPack, ErrorBody
from avatar_service.api.services import services
from avatar_service.errors import AvatarServiceError
from avatar_service.packs.manifest import PACK_ID_PATTERN

_LOGGER = logging.getLogger(__name__)

AUDIO_NAME_PATTERN = r"^[0-9a-f]{32}\.(ogg|wav)$"
# File names inside a pack: no "/" or "..", so a path can never leave the pack's folder.
PACK_FILE_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
AUDIO_MEDIA_TYPES = {".ogg": "audio/ogg", ".wav": "audio/wav"}
# Audio files are named by the render's content hash: a name never gets other content, so caches keep it.
AUDIO_CACHE_CONTROL = "public, max-age=31536000, immutable"

# Shown at / when no player is installed (e.g. a source checkout without web/index.html).
PLACEHOLDER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>avatar-service</title></head>
<body><h1>avatar-service is running</h1>
<p>The web player is not installed here. Try the API at <a href="docs">/docs</a>.</p></body></html>
"""

router = APIRouter()


class WebFiles(StaticFiles):
    """The player's files at /, mounted last. A request under /v1/ only gets here when no API route took it
    (e.g. OPTIONS on a POST route): it answers in the API's error shape, with the route's real ``Allow``
    (RFC 9110 §15.5.6), rather than as a missing static file that allows GET."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await super().__call__(scope, receive, send)
            return
        allowed = _allowed_methods(scope)
        if allowed:
            response = error_response(
                405, f"method {scope['method']} not allowed here (allowed: {', '.join(allowed)})",
                headers={"Allow": ", ".join(allowed)},
            )
        else:
            response = error_response(404, f"no API route at {scope['path']}")
        await response(scope, receive, send)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(scope: Scope) -> list[str]:
    """The methods some API route (not a mount) fully matches for this path, asking each route as Starlette does."""
    routes = [route for route in scope["app"].router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def find_web_dir(configured: Path | None) -> Path | None:
    """WEB_DIR if set; else the player packaged in the wheel; else the repository's web/ (editable install)."""
    if configured is not None:
        if not configured.is_dir():
            raise AvatarServiceError(f"WEB_DIR: {configured} is not a directory")
        return configured
    package_dir = Path(avatar_service.__file__).resolve().parent
    for candidate in (package_dir / "web", package_dir.parents[1] / "web"):
        if candidate.is_dir():
            return candidate
    return None


@router.get("/", include_in_schema=False)
async def index(request: Request) -> Response:
    web_dir = services(request).web_dir
    if web_dir is not None and (web_dir / "index.html").is_file():
        return FileResponse(web_dir / "index.html", media_type="text/html")
    return HTMLResponse(PLACEHOLDER_PAGE)


@router.get(
    "/audio/{file_name}",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/ogg": {}, "audio/wav": {}}, "description": "the audio (Range requests → 206)"},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody, "description": PATH_LIMITS["file_name"]},
    },
    summary="A render's audio file",
)
async def audio(
    request: Request, file_name: str = PathParam(pattern=AUDIO_NAME_PATTERN, description=PATH_LIMITS["file_name"])
) -> Response:
    # The pattern admits no "/" or "..", so the path below cannot leave the audio directory.
    path = services(request).settings.audio_dir / file_name
    if not path.is_file():
        return error_response(404, f"file_name: no audio file {file_name} (never rendered, or expired)", "file_name")
    return FileResponse(
        path,
        media_type=AUDIO_MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": AUDIO_CACHE_CONTROL},
    )


# Browsers and proxies send HEAD to learn the size before Range requests.
router.add_api_route("/audio/{file_name}", audio, methods=["HEAD"], include_in_schema=False)


def pack_roots(request: Request) -> list[Path]:
    """Where packs are looked up, in order: PACKS_DIR, then the player's shipped packs."""
    app = services(request)
    roots = [app.settings.resolved_packs_dir]
    if app.web_dir is not None:
        roots.append(app.web_dir / "avatars")
    return roots


@router.get("/v1/avatars", response_model=list[AvatarPack], summary="Avatar packs in PACKS_DIR and shipped ones")
async def avatars(request: Request) -> list[AvatarPack]:
    root_path = request.scope.get("root_path", "")
    return [
        AvatarPack(id=pack_id, name=name, manifest_url=f"{root_path}/avatars/{directory}/manifest.json")
        for directory, pack_id, name in list_packs(pack_roots(request))
    ]


@router.get("/avatars/{pack_dir}/{file_name}", include_in_schema=False)
async def pack_file(
    request: Request,
    pack_dir: str = PathParam(pattern=PACK_ID_PATTERN),
    file_name: str = PathParam(pattern=PACK_FILE_PATTERN),
) -> Response:
    for root in pack_roots(request):
        path = root / pack_dir / file_name
        if (root / pack_dir / "manifest.json").is_file():
            if path.is_file():
                return FileResponse(path)
            break  # a pack in PACKS_DIR hides a shipped pack of the same folder name entirely
    return error_response(404, f"no file {file_name} in avatar pack {pack_dir}", "file_name")


def list_packs(roots: list[Path]) -> list[tuple[str, str, str]]:
    """(directory name, id, display name) of each pack with a readable manifest.json, sorted by directory;
    a folder name in an earlier root hides the same name in a later one.

    URLs use the directory name (that is where the files are); a manifest that cannot be read is skipped with a
    warning rather than hiding every other pack.
    """
    packs = []
    found: set[str] = set()
    manifests = [path for root in roots for path in sorted(root.glob("*/manifest.json"))]
    for manifest_path in manifests:
        directory = manifest_path.parent.name
        if directory in found or directory.startswith("."):  # hidden: a pack being built or replaced
            continue
        found.add(directory)
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            pack_id = str(manifest.get("id") or directory)
            name = str(manifest.get("name") or pack_id)
        except (OSError, ValueError, AttributeError) as error:
            _LOGGER.warning("skipping avatar pack %s: unreadable manifest (%s)", directory, error)
            continue
        packs.append((directory, pack_id, name))
    return sorted(packs)
