"""Opens a page of real_space_diff_map in headless Chromium (driven by Playwright) and prints,
as JSON, what the page's DOM holds after it has loaded: rows, images and their natural widths,
console errors, failed requests; for a batch page also the row order before and after clicking
headers, and the rows left by a filter. Saves a full-page screenshot.

    python browser_check.py CHROMIUM run|batch URL SCREENSHOT.png

Used by tests/pages_in_browser.rs, which checks the figures against the run's own files.
"""

import json
import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Pages opened from disk may load the images and scripts beside them.
    "--allow-file-access-from-files",
]


def ids(page):
    return page.eval_on_selector_all("#rows tr", "rows => rows.map(r => r.dataset.id)")


def column(page, index):
    return page.eval_on_selector_all(
        "#rows tr", f"rows => rows.map(r => r.children[{index}].textContent)"
    )


def check_batch(page, result):
    page.wait_for_selector("#rows tr", timeout=15000)
    result["rows"] = page.locator("#rows tr").count()
    result["initial_order"] = ids(page)
    result["headers"] = page.eval_on_selector_all("#headers th", "ths => ths.map(t => t.dataset.key)")
    result["links"] = page.eval_on_selector_all("#rows a", "links => links.map(a => a.getAttribute('href'))")
    page.click("#headers th[data-key=positive]")
    result["after_positive_click"] = ids(page)
    result["positive_values_after_click"] = column(page, 5)
    result["aria_after_click"] = page.get_attribute("#headers th[data-key=positive]", "aria-sort")
    page.click("#headers th[data-key=positive]")
    result["after_second_positive_click"] = ids(page)
    page.click("#headers th[data-key=id]")
    result["after_id_click"] = ids(page)
    page.fill("#filters input[data-key=status]", "failed")
    result["rows_filtered_failed"] = ids(page)
    page.fill("#filters input[data-key=status]", "")
    page.fill("#filters input[data-key=positive]", ">0")
    result["rows_filtered_positive"] = ids(page)
    page.fill("#filters input[data-key=positive]", "")
    result["counts_text"] = page.text_content("#counts")


def check_run(page, result):
    page.wait_for_load_state("load")
    result["rows"] = page.locator("#peak-table tbody tr").count()
    result["residue_rows"] = page.locator("#residue-table tbody tr").count()
    result["title"] = page.title()
    result["links"] = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    result["sections"] = page.eval_on_selector_all("h2[id]", "hs => hs.map(h => h.id)")
    result["histogram_bars"] = page.locator("#histogram rect").count()
    result["threshold_lines"] = page.locator("#histogram line.threshold").count()
    result["histogram_height"] = page.eval_on_selector_all(
        "#histogram", "e => e.length ? e[0].getBoundingClientRect().height : 0"
    )
    result["chain_rows"] = page.locator("#chain-table tbody tr").count()
    result["shell_rows"] = page.locator("#shell-table tbody tr").count()
    result["command"] = page.eval_on_selector_all("#command-line", "e => e.length ? e[0].textContent : ''")


def main():
    chromium, kind, url, screenshot = sys.argv[1:5]
    result = {"console_errors": [], "page_errors": [], "failed_requests": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: m.type == "error" and result["console_errors"].append(m.text))
        page.on("pageerror", lambda e: result["page_errors"].append(str(e)))
        page.on("requestfailed", lambda r: result["failed_requests"].append(r.url))
        page.goto(url)
        page.wait_for_load_state("load")
        if kind == "batch":
            check_batch(page, result)
        else:
            check_run(page, result)
        # Lazy images load once scrolled into view: scroll through, then wait for them.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(
            "Array.from(document.images).every(i => i.complete)", timeout=15000
        )
        result["images"] = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => ({src: i.getAttribute('src'), width: i.naturalWidth}))"
        )
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
