"""What the API serves besides renders: the web demo, avatar packs, voices, docs and CORS."""

import json

import pytest

from avatar_service.api import create_app
from avatar_service.errors import AvatarServiceError


@pytest.fixture
def web_dir(tmp_path):
    root = tmp_path / "web"
    (root / "avatars" / "zed_v1").mkdir(parents=True)
    (root / "avatars" / "ada_v1").mkdir(parents=True)
    (root / "avatars" / "broken").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>player</title>")
    (root / "player.js").write_text("export const ok = true;")
    (root / "avatars" / "zed_v1" / "manifest.json").write_text(json.dumps({"id": "zed_v1", "name": "Zed"}))
    (root / "avatars" / "ada_v1" / "manifest.json").write_text(json.dumps({"id": "ada_v1", "name": "Ada"}))
    (root / "avatars" / "broken" / "manifest.json").write_text("{not json")
    return root


def test_web_dir_is_served_at_the_root_with_its_packs(start_server, make_settings, web_dir):
    server = start_server(make_settings(web_dir=web_dir))

    index = server.client.get("/")
    module = server.client.get("/player.js")
    packs = server.client.get("/v1/avatars").json()

    assert index.status_code == 200 and "<title>player</title>" in index.text
    assert index.headers["content-type"].startswith("text/html")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    # Sorted by directory; an unreadable manifest is skipped, not fatal.
    assert packs == [
        {"id": "ada_v1", "name": "Ada", "manifest_url": "/avatars/ada_v1/manifest.json"},
        {"id": "zed_v1", "name": "Zed", "manifest_url": "/avatars/zed_v1/manifest.json"},
    ]
    assert server.client.get(packs[0]["manifest_url"]).json()["name"] == "Ada"
    assert server.client.get("/no-such-page").status_code == 404


def test_the_repository_player_and_packs_are_found_without_configuration(live):
    packs = live.client.get("/v1/avatars").json()

    assert live.client.get("/").status_code == 200
    assert packs, "web/avatars/ ships at least one pack"
    for pack in packs:
        manifest = live.client.get(pack["manifest_url"])
        assert manifest.status_code == 200 and manifest.json()["id"] == pack["id"]


def test_a_missing_web_dir_is_a_clear_error(make_settings, tmp_path):
    with pytest.raises(AvatarServiceError, match="WEB_DIR"):
        create_app(make_settings(web_dir=tmp_path / "nowhere"))


def test_voices_lists_the_installed_voices_with_the_default(live):
    assert live.client.get("/v1/voices").json() == {
        "default_voice": "en_US-joe-medium",
        "voices": [{"voice_id": "en_US-joe-medium", "default": True}],
    }


def test_openapi_docs_describe_the_contract(live):
    docs = live.client.get("/docs")
    schema = live.client.get("/openapi.json").json()

    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {
        "/v1/avatar/render",
        "/v1/avatar/render_async",
        "/v1/avatar/render/{render_id}",
        "/health",
        "/v1/voices",
        "/v1/avatars",
        "/audio/{file_name}",
    } <= set(schema["paths"])
    render = schema["paths"]["/v1/avatar/render"]["post"]
    assert render["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_cors_origins_are_allowed_when_configured(start_server, make_settings):
    server = start_server(make_settings(cors_origins="https://app.example.test"))

    allowed = server.client.get("/v1/voices", headers={"Origin": "https://app.example.test"})
    other = server.client.get("/v1/voices", headers={"Origin": "https://evil.example.test"})

    assert allowed.headers["access-control-allow-origin"] == "https://app.example.test"
    assert "access-control-allow-origin" not in other.headers


def test_packs_dir_is_served_with_the_shipped_packs_and_new_packs_appear_live(start_server, make_settings, tmp_path):
    packs_dir = tmp_path / "user-packs"
    server = start_server(make_settings(packs_dir=packs_dir))
    shipped = {pack["id"] for pack in server.client.get("/v1/avatars").json()}
    assert "grace_hopper_v1" in shipped

    # Made while the service runs (as `pack create` would): listed and served without a restart.
    (packs_dir / "mine_v1").mkdir(parents=True)
    (packs_dir / "mine_v1" / "manifest.json").write_text(json.dumps({"id": "mine_v1", "name": "Mine"}))
    (packs_dir / "mine_v1" / "base_face.png").write_bytes(b"\x89PNG fake")
    packs = server.client.get("/v1/avatars").json()

    assert {"id": "mine_v1", "name": "Mine", "manifest_url": "/avatars/mine_v1/manifest.json"} in packs
    assert {pack["id"] for pack in packs} == shipped | {"mine_v1"}
    assert server.client.get("/avatars/mine_v1/manifest.json").json()["name"] == "Mine"
    assert server.client.get("/avatars/mine_v1/base_face.png").content == b"\x89PNG fake"
    assert server.client.get("/avatars/grace_hopper_v1/manifest.json").json()["id"] == "grace_hopper_v1"
    assert server.client.get("/avatars/mine_v1/nothing.png").status_code == 404


def test_a_pack_in_packs_dir_hides_the_shipped_one_of_that_name(start_server, make_settings, tmp_path):
    packs_dir = tmp_path / "user-packs"
    (packs_dir / "grace_hopper_v1").mkdir(parents=True)
    (packs_dir / "grace_hopper_v1" / "manifest.json").write_text(json.dumps({"id": "grace_hopper_v1", "name": "Own"}))
    (packs_dir / ".half_built.x.partial").mkdir()
    (packs_dir / ".half_built.x.partial" / "manifest.json").write_text("{}")
    server = start_server(make_settings(packs_dir=packs_dir))

    packs = server.client.get("/v1/avatars").json()

    assert [pack["name"] for pack in packs if pack["id"] == "grace_hopper_v1"] == ["Own"]
    assert not any(pack["manifest_url"].startswith("/avatars/.") for pack in packs)
    assert server.client.get("/avatars/grace_hopper_v1/manifest.json").json()["name"] == "Own"
    assert server.client.get("/avatars/grace_hopper_v1/idle_loop.webm").status_code == 404


@pytest.mark.parametrize("path", ["/avatars/../config.py", "/avatars/..%2F..%2Fetc/passwd", "/avatars/x/..%2Fmanifest.json"])
def test_pack_paths_cannot_leave_the_packs(live, path):
    response = live.client.get(path)
    assert response.status_code in (404, 422) and "root:" not in response.text
