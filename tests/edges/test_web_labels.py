"""Names, tags, notes and deleting through the dashboard's POSTs (web/labels.py), with TestClient: nothing
trains, nothing opens a browser (test_web_labels_browser.py clicks the same in Chromium)."""
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import finished_runs  # noqa: E402
from mlplab.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

TOKEN = "t"


@pytest.fixture
def client(tmp_path):
    store = Store(tmp_path / "runs")
    ids = list(finished_runs(store, ("keeper", "junk")).values())
    app = create_app(store.home, token=TOKEN)
    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"Authorization": f"token {TOKEN}"}) as c:
        yield c, store, ids


def test_labels_tag_and_delete(client):
    c, store, (keeper, junk) = client
    r = c.post(f"/runs/{keeper}/labels", data={"name": "kept", "tags": "keep, best", "note": "the one"},
               follow_redirects=False)
    assert r.status_code == 303
    run = store.get_run(keeper)
    assert (run["name"], sorted(run["tags"]), run["note"]) == ("kept", ["best", "keep"], "the one")
    r = c.post("/api/runs/tag", data={"run": [keeper, junk], "tag": "seen"})
    assert r.status_code == 200 and all("seen" in tags for tags in r.json()["tags"].values())
    r = c.post("/api/runs/delete", data={"run": [junk]})
    assert r.status_code == 200 and r.json()["deleted"] == [junk]
    assert [x["id"] for x in store.list_runs()] == [keeper]


def test_a_post_without_a_form_selects_no_run(client):
    c, store, _ = client
    for body in ({}, {"headers": {"Content-Type": "multipart/form-data"}, "content": b"not a form"}):
        r = c.post("/api/runs/tag", **body)
        assert r.status_code == 400 and "select at least one run" in r.text
