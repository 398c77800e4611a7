"""Tag, note and delete from the runs list, in a real headless Chromium (as tests/edges/test_web_browser.py)."""
import pytest

from conftest import SAFETY_NET, finished_runs
from test_web_browser import TOKEN, launch, playwright_api, serving

from mlplab.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

pytestmark = pytest.mark.slow   # opens a browser


@pytest.fixture
def served(tmp_path):
    store = Store(tmp_path / "runs")
    ids = finished_runs(store, ("keeper", "junk", "other"))
    with serving(create_app(store.home, token=TOKEN)) as url:
        yield url, store, ids


def test_tag_note_and_delete_from_the_runs_list(served):
    url, store, ids = served
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(SAFETY_NET * 1000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())   # the confirmations
        page.goto(f"{url}/?token={TOKEN}")
        # tag from the runs list: select a run, type a tag, "Tag selected"
        page.check(f".pick[value='{ids['keeper']}']")
        page.fill("#bulk-tag", "keep")
        with page.expect_navigation():
            page.click("#tag-selected")
        assert store.get_run(ids["keeper"])["tags"] == ["keep"]
        # a note (and a name) on the run's page, shown back in the list
        page.click(f"#runs-table a[href='/runs/{ids['keeper']}']")
        page.fill("#labels-form textarea[name=note]", "lr 0.01: the one to hand in")
        page.fill("#labels-form input[name=tags]", "keep best")
        page.click("#save-labels")
        page.wait_for_selector("#run-labels")
        assert "lr 0.01: the one to hand in" in page.inner_text("#run-labels")
        page.goto(url + "/")
        row = page.locator(f"#runs-table tr:has(a[href='/runs/{ids['keeper']}'])")
        assert "lr 0.01: the one to hand in" in row.inner_text() and "best" in row.inner_text()
        # the tag filter keeps only the tagged run
        with page.expect_navigation():
            page.select_option("#tag-filter", "keep")
            page.click("form.filters button[type=submit]")
        assert page.locator("#runs-table tbody tr").count() == 1
        # delete from the runs list: select, "Delete selected", confirm
        page.goto(url + "/")
        page.check(f".pick[value='{ids['junk']}']")
        with page.expect_navigation():
            page.click("#delete-selected")
        assert page.locator("#runs-table tbody tr").count() == 2
        assert page.locator(f"a[href='/runs/{ids['junk']}']").count() == 0
        # and from a run's page
        page.goto(f"{url}/runs/{ids['other']}")
        with page.expect_navigation():
            page.click("#delete-run")
        page.screenshot(path="tests/output/web-labels.png", full_page=True)
        browser.close()
    assert [r["id"] for r in store.list_runs()] == [ids["keeper"]]
    assert sorted(p.name for p in store.artifacts.iterdir()) == [ids["keeper"]]
    assert not errors, errors
