"""An API token's name is plain text: a control character in it is a 422 and no token is made."""

from __future__ import annotations

import pytest

from tests.integration.identity.conftest import ROOT, Api


@pytest.mark.parametrize("name", ["scan\x00ner", "bell\x07", "esc\x1b[2J", "\u2028"])
async def test_a_control_character_in_a_token_name_is_a_422_and_nothing_is_made(api: Api, name: str) -> None:
    async with api.client() as root:
        await api.login(root, ROOT)
        before = (await root.get("/api/tokens")).json()["tokens"]
        response = await root.post("/api/tokens", json={"name": name, "role": "user"})
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == {"field": "name"}
        assert "control character" in response.json()["error"]
        assert (await root.get("/api/tokens")).json()["tokens"] == before
        fine = await root.post("/api/tokens", json={"name": "сканер №3", "role": "user"})
        assert fine.status_code == 201, fine.text
