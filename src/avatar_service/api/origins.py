"""Which web pages may use the API from a browser: CORS_ORIGINS, for fetch and for the WebSocket stream.

Browsers enforce CORS on fetch (Starlette's CORSMiddleware answers it from this list), but not on WebSockets:
any page may open one to any address the browser reaches, localhost and the LAN included, and only tells the
server the page's origin in the handshake's ``Origin`` header. RFC 6455 §10.2: servers that do not want every
page's scripts to use them should check it. The stream accepts a handshake with no Origin (not a browser: a
browser always sends one, RFC 6455 §4.1), from the service's own pages, or from an origin CORS_ORIGINS allows.
See docs/streaming.md, "Origin".
"""

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from starlette.websockets import WebSocket

from avatar_service.config import Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AllowedOrigins:
    """CORS_ORIGINS: comma-separated origins (``https://app.example.com``), ``*`` for any."""

    listed: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> "AllowedOrigins":
        return cls(tuple(origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()))

    def admits(self, origin: str) -> bool:
        # CORSMiddleware's rule for the same list, so fetch and the stream agree: "*", or the exact origin.
        return "*" in self.listed or origin in self.listed


def own_origin(websocket: WebSocket) -> str:
    """The origin of the pages this service serves, as the browser reached it: scheme and Host header. Behind a
    proxy the Host is the public one when the proxy passes it on (deploy/nginx.conf does), and uvicorn takes the
    scheme from a trusted proxy's X-Forwarded-Proto (FORWARDED_ALLOW_IPS), so a page on https gives wss."""
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return f"{scheme}://{websocket.headers.get('host', '')}"


def foreign_origin(websocket: WebSocket, allowed: AllowedOrigins) -> str | None:
    """The page origin a browser sent when it is neither this service's own nor allowed by CORS_ORIGINS; None
    when the handshake may go on."""
    origin = websocket.headers.get("origin")
    if origin is None or allowed.admits(origin) or _same_origin(origin, own_origin(websocket)):
        return None
    return origin


def _same_origin(first: str, second: str) -> bool:
    """Scheme, host and port equal, a missing port being the scheme's default (RFC 6454 §5). Browsers leave the
    default port out of Origin (RFC 6454 §6.2); a Host header may carry it or not."""
    key = _origin_key(urlsplit(first))
    return key is not None and key == _origin_key(urlsplit(second))


def _origin_key(url: SplitResult) -> tuple[str, str, int] | None:
    try:
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
    except ValueError:  # a port that is not a number: no origin ("null" and garbage compare unequal)
        return None
    if url.scheme not in _DEFAULT_PORTS or not url.hostname or port is None:
        return None
    return url.scheme, url.hostname, port
