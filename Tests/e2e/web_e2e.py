#!/usr/bin/env python3
"""End-to-end test of the vdb web app in a real browser (headless Chromium through Selenium).

Run by Tests/e2e/run.sh, which ingests Samples/photos into a temporary database and starts
`vdb serve`. This script drives the page as a person would:

  1. types a demo query (Samples/demo-queries.jsonl) and checks its expected photo is first;
  2. uploads a sample photo with the file button and checks it finds itself first;
  3. opens a result's detail view (original photo and metadata);
  4. on the data page, browses the collection, selects photos with click and shift-click,
     deletes them and checks the count dropped;
  5. checks the browser logged no errors (script errors, blocked resources);

and saves one screenshot of each page. It fails loudly (non-zero exit) when Chromium cannot
start: it never skips.
"""
import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select, WebDriverWait

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAIL - {name}" + (f": {detail}" if detail else ""))


def wait(driver, what, fn, timeout=20):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: fn(d))
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def images_loaded(driver, selector, first=4):
    """Whether the first `first` images matching `selector` have loaded (later ones load lazily)."""
    return driver.execute_script(
        "const imgs = [...document.querySelectorAll(arguments[0])].slice(0, arguments[1]);"
        "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);", selector, first)


def first_result_path(driver):
    return driver.execute_script(
        "const r = document.querySelector('#results .result'); return r ? r.dataset.path : null;")


def start_browser(width, height):
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              f"--window-size={width},{height}", "--force-device-scale-factor=1", "--lang=en-US"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--samples", default="Samples/photos")
    ap.add_argument("--queries", default="Samples/demo-queries.jsonl")
    ap.add_argument("--screenshots", default="Docs/screenshots")
    ap.add_argument("--collection", default="photos")
    args = ap.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    with open(args.queries) as f:
        demo = [json.loads(line) for line in f if line.strip()]

    try:
        driver = start_browser(1280, 1000)
    except WebDriverException as e:
        print(f"FAIL - Chromium did not start through /usr/bin/chromedriver: {e.msg}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 2

    try:
        run(driver, args, demo)
    except AssertionError as e:
        check("scenario completed", False, str(e))
    except WebDriverException as e:
        check("scenario completed", False, f"WebDriver error: {e.msg}")
    finally:
        try:
            severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            check("the browser logged no errors", not severe, "; ".join(e["message"] for e in severe[:5]))
        except WebDriverException as e:
            check("browser log readable", False, e.msg)
        driver.quit()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def run(driver, args, demo):
    url = args.url.rstrip("/") + "/"
    driver.get(url + "#search")
    wait(driver, "the collection list", lambda d: args.collection in
         [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#collection option")])
    Select(driver.find_element(By.ID, "collection")).select_by_value(args.collection)
    check("the web app lists the ingested collection", True)

    # 1. Text search: every demo query's expected photo comes first.
    for q in demo[:3]:
        box = driver.find_element(By.ID, "query")
        box.clear()
        box.send_keys(q["query"], Keys.ENTER)
        wait(driver, f"results for '{q['query']}'",
             lambda d: (first_result_path(d) or "").endswith("/" + q["expected"])
             and q["query"] in d.find_element(By.ID, "query-label").text, timeout=30)
        check(f"text search '{q['query']}' ranks {q['expected']} first",
              first_result_path(driver).endswith("/" + q["expected"]), first_result_path(driver))
    summary = driver.find_element(By.ID, "result-summary").text
    check("the summary reads 'N results, page x of y'", "results, page 1 of" in summary, summary)
    wait(driver, "thumbnails", lambda d: images_loaded(d, "#results img"))
    tiles = driver.find_elements(By.CSS_SELECTOR, "#results .result")
    check("a page shows at most 20 results", 0 < len(tiles) <= 20, str(len(tiles)))
    check("tiles show score and distance", "score" in tiles[0].text and "distance" in tiles[0].text, tiles[0].text)
    driver.save_screenshot(os.path.join(args.screenshots, "search.png"))

    # Relevance slider: raising it hides weaker results.
    before = len(driver.find_elements(By.CSS_SELECTOR, "#results .result"))
    driver.execute_script("const s = document.getElementById('min-score');"
                          "s.value = String((Number(s.min) + Number(s.max)) / 2);"
                          "s.dispatchEvent(new Event('input'));")
    after = len(driver.find_elements(By.CSS_SELECTOR, "#results .result"))
    check("the relevance slider hides results below the score", after < before, f"{before} -> {after}")

    # Metadata filter: only PNGs.
    driver.find_element(By.CSS_SELECTOR, "#filters-box summary").click()
    driver.find_element(By.ID, "add-filter").click()
    row = driver.find_elements(By.CSS_SELECTOR, ".filter-row")[-1]
    row.find_elements(By.TAG_NAME, "input")[0].send_keys("format")
    row.find_elements(By.TAG_NAME, "input")[1].send_keys("png")
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(demo[1]["query"], Keys.ENTER)
    wait(driver, "filtered results", lambda d: demo[1]["query"] in d.find_element(By.ID, "query-label").text
         and first_result_path(d))
    paths = driver.execute_script("return [...document.querySelectorAll('#results .result')].map(r => r.dataset.path)")
    check("a metadata filter (format = png) keeps only PNGs", paths and all(p.endswith(".png") for p in paths), str(paths))
    row.find_element(By.TAG_NAME, "button").click()

    # 2. Image search through the file button: the photo finds itself first.
    sample = sorted(f for f in os.listdir(args.samples) if f.endswith((".jpg", ".png")))[5]
    driver.find_element(By.ID, "file-input").send_keys(os.path.abspath(os.path.join(args.samples, sample)))
    wait(driver, f"image search results for {sample}",
         lambda d: sample in d.find_element(By.ID, "query-label").text and first_result_path(d), timeout=30)
    check(f"uploading {sample} finds itself first", (first_result_path(driver) or "").endswith("/" + sample),
          first_result_path(driver))

    # 3. Detail view of the first result, then "find similar" from it.
    driver.find_element(By.CSS_SELECTOR, "#results .result .open").click()
    wait(driver, "the detail view", lambda d: d.find_element(By.ID, "detail").get_attribute("open") is not None)
    wait(driver, "the original photo", lambda d: images_loaded(d, "#detail-image"))
    meta = driver.find_element(By.ID, "detail-meta").text
    check("the detail view shows path, size, dimensions and date",
          all(k in meta for k in ["path", "size", "dimensions", "date"]) and sample in meta, meta)
    driver.save_screenshot(os.path.join(args.screenshots, "detail.png"))
    driver.find_element(By.ID, "detail-similar").click()
    wait(driver, "find-similar results", lambda d: "similar to" in d.find_element(By.ID, "query-label").text)
    paths = driver.execute_script("return [...document.querySelectorAll('#results .result')].map(r => r.dataset.path)")
    check("find similar returns other photos", len(paths) > 0 and not any(p.endswith("/" + sample) for p in paths))

    # 4. Data page: collections table, browse, select with click + shift-click, delete.
    driver.find_element(By.ID, "nav-data").click()
    wait(driver, "the collections table", lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-browse='{args.collection}']"))
    driver.find_element(By.CSS_SELECTOR, f"[data-browse='{args.collection}']").click()
    wait(driver, "the browse grid", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#browse-grid .point")) >= 3)
    wait(driver, "browse thumbnails", lambda d: images_loaded(d, "#browse-grid img"))
    count_before = int(driver.find_element(By.ID, "browse-summary").text.split()[0])
    points = driver.find_elements(By.CSS_SELECTOR, "#browse-grid .point")
    points[0].click()
    points = driver.find_elements(By.CSS_SELECTOR, "#browse-grid .point")
    ActionChains(driver).key_down(Keys.SHIFT).click(points[2]).key_up(Keys.SHIFT).perform()
    selected = len(driver.find_elements(By.CSS_SELECTOR, "#browse-grid .point.selected"))
    check("click then shift-click selects a range of 3", selected == 3, str(selected))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(os.path.join(args.screenshots, "data.png"))
    driver.find_element(By.ID, "delete-selected").click()
    WebDriverWait(driver, 5).until(lambda d: d.switch_to.alert)
    driver.switch_to.alert.accept()
    wait(driver, "the count to drop",
         lambda d: d.find_element(By.ID, "browse-summary").text.split()[0] == str(count_before - 3))
    row = driver.find_element(By.CSS_SELECTOR, "#collections-table tr.current").text
    check("deleting 3 photos drops the count on the data page", str(count_before - 3) in row, f"{count_before} -> {row}")

    # Phone-sized layout.
    driver.set_window_size(390, 844)
    driver.get(url + "#search")
    driver.refresh()
    wait(driver, "the collection list", lambda d: d.find_elements(By.CSS_SELECTOR, "#collection option"))
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(demo[0]["query"], Keys.ENTER)
    wait(driver, "phone results", lambda d: first_result_path(d))
    wait(driver, "phone thumbnails", lambda d: images_loaded(d, "#results img"))
    width = driver.execute_script("return document.documentElement.scrollWidth")
    check("the search page fits a phone-sized screen (no horizontal scroll)", width <= 390, str(width))
    driver.save_screenshot(os.path.join(args.screenshots, "search-phone.png"))


if __name__ == "__main__":
    sys.exit(main())
