"""wasmfed's web page in a real browser: Playwright (PyPI) driving Debian's Chromium.

Run by the e2e test `ui.rs` against a node it started: python3 page_test.py URL SHOTS_DIR.
Each check clicks through the page as an operator would and reads what it drew; the first
failure ends the run with a non-zero status and says which check and what the page showed.
"""

import re
import sys

from playwright.sync_api import expect, sync_playwright

URL, SHOTS = sys.argv[1], sys.argv[2]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def tab(page, name):
    page.click(f"nav a[href='#{name}']")
    expect(page.locator(f"#{name}-page")).to_be_visible()


def identity(page, tenant="", token="", admin=""):
    page.fill("#tenant", tenant)
    page.fill("#token", token)
    page.fill("#admin-token", admin)
    page.click("#identity button")


def run(page):
    # A browser asking for / lands on the page.
    page.goto(URL + "/")
    expect(page).to_have_url(re.compile(r"/ui/$"))

    # Targets: the kept one up with its relabeled label, the other dropped by the stage.
    targets = page.locator("#targets-list")
    expect(targets).to_contain_text("web (1/1 up)")
    expect(targets).to_contain_text('team="ui"')
    expect(page.locator("#dropped-list")).to_contain_text('__address__="127.0.0.1:1"')
    page.screenshot(path=f"{SHOTS}/targets.png", full_page=True)

    # The relabel debugger: targets step by step, and a pasted series through the series stage.
    tab(page, "relabel")
    page.select_option("#relabel-job", "web")
    page.fill("#relabel-series", 'secret_metric{a="b"}\nkept_metric{a="b"}')
    page.click("#relabel-form button")
    result = page.locator("#relabel-result")
    expect(result).to_contain_text("Targets of web")
    expect(result).to_contain_text('team="ui"')
    expect(result.locator("p", has_text="dropped by")).to_have_count(2)  # a target, a series
    expect(result).to_contain_text('job="web"')
    page.screenshot(path=f"{SHOTS}/relabel.png", full_page=True)

    # Queries: an answer, then a refusal shown with the API's reason.
    tab(page, "query")
    page.fill("#query-expr", 'up{job="web"}')
    page.click("#query-form button")
    expect(page.locator("#query-result")).to_contain_text("vector, 1 series")
    expect(page.locator("#query-result")).to_contain_text('instance="')
    page.fill("#query-expr", "sum(")
    page.click("#query-form button")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("400 invalid parameter")

    # Rules and alerts.
    tab(page, "rules")
    expect(page.locator("#rules-list")).to_contain_text("record: job:up:sum")
    expect(page.locator("#rules-list .ok")).to_have_count(2)
    tab(page, "alerts")
    expect(page.locator("#alerts-list")).to_contain_text('alertname="AlwaysFiring"')
    expect(page.locator("#alerts-list")).to_contain_text("firing")

    # The configuration, secrets hidden.
    tab(page, "config")
    config = page.locator("#config-yaml")
    expect(config).to_contain_text("password: <secret>")
    expect(config).not_to_contain_text("s3cr3t")
    expect(config).not_to_contain_text("team-a")

    # Plugins need the admin token.
    tab(page, "plugins")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("401")
    identity(page, admin="admintok")
    plugins = page.locator("#plugins-list")
    expect(plugins).to_contain_text("promql-rules")
    expect(plugins.locator("tbody tr").first).to_be_visible()
    page.screenshot(path=f"{SHOTS}/plugins.png", full_page=True)

    tab(page, "status")
    expect(page.locator("#status-info")).to_contain_text("2.42.0")

    # A tenant sees its own targets and configuration only; a wrong token is refused.
    identity(page, tenant="team-a", token="tok-a")
    tab(page, "targets")
    expect(page.locator("#targets-list")).to_contain_text("a-job (1/1 up)")
    expect(page.locator("#targets-list")).not_to_contain_text("web (")
    tab(page, "config")
    expect(page.locator("#config-yaml")).to_contain_text("name: team-a")
    expect(page.locator("#config-yaml")).to_contain_text("bearer_token: <secret>")
    identity(page, tenant="team-a", token="wrong")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("403 not allowed for this tenant")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        run(page)
    except Exception:
        page.screenshot(path=f"{SHOTS}/failure.png", full_page=True)
        print("page text at the failure:\n" + page.inner_text("body"), file=sys.stderr)
        raise
    finally:
        browser.close()
print("page checks passed")
