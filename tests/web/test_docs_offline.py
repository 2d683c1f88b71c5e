"""/docs works with no internet: its page names no external URL and renders in Chromium with the network cut."""

import re
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_reference_only_local_assets(api_url, path):
    page = httpx.get(f"{api_url}{path}", timeout=30)
    assert page.status_code == 200
    external = re.findall(r"""(?:src|href|url)\s*[=:]\s*["']?(https?://[^"' )]+)""", page.text)
    assert external == [], external
    for asset in re.findall(r"""(?:src|href)="(/[^"]+)\"""", page.text):
        assert httpx.get(f"{api_url}{asset}", timeout=30).status_code == 200, asset


def test_swagger_ui_renders_with_the_network_disabled(browser, api_url):
    context = browser.new_context()
    local_host = urlsplit(api_url).netloc
    outside: list[str] = []

    def only_local(route):
        # Everything but the service itself is cut off, as on a machine with no internet.
        if urlsplit(route.request.url).netloc == local_host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{api_url}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.textContent)")
    finally:
        context.close()

    assert "/v1/avatar/render" in paths and "/health" in paths
    assert outside == [] and errors == []
