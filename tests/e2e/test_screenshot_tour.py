"""A screenshot tour of every main page at a laptop's width (1366 px) and a phone's (390 px).

Each page: no wider than the screen (nothing scrolls sideways but a table inside its own
scrolling card), axe-core finds nothing serious or critical, no console error. The screenshots go
to test-artifacts/tour-<width>-<page>.png (the README shows three of them).
"""

from __future__ import annotations

import pytest

from portal.demo import DEMO_EMAIL
from tests.e2e.axe_check import AxeReport
from tests.e2e.demo_pages import PASSWORD, main_pages
from tests.e2e.journey_steps import settle, sign_in_through_form

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}

# What sticks out of the page at this width: the widest elements not inside a scrolling box.
_OVERFLOW = """() => {
  const limit = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (["auto", "scroll", "hidden"].includes(style.overflowX)) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > limit + 1 && !scrolls(el)) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")} right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, limit, out: out.slice(0, 8)};
}"""


@pytest.mark.parametrize("device", WIDTHS)
def test_every_main_page_fits_the_screen_and_passes_axe(
    browser, site_url, artifacts, demo_with_data, device
):
    width, height = WIDTHS[device]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(15_000)
    sign_in_through_form(page, site_url, DEMO_EMAIL, PASSWORD)
    report = AxeReport()
    too_wide = {}
    try:
        for name, path in main_pages(demo_with_data):
            page.goto(site_url + path)
            settle(page)
            measured = page.evaluate(_OVERFLOW)
            if measured["scrollWidth"] > measured["limit"]:
                too_wide[name] = measured
            page.screenshot(path=str(artifacts / f"tour-{device}-{name}.png"), full_page=True)
            report.check(page, site_url, f"{device}-{name}")
    finally:
        context.close()
    report.save(artifacts / f"axe-tour-{device}.json")
    assert too_wide == {}, "\n".join(f"{n}: {m}" for n, m in too_wide.items())
    assert errors == [], "\n".join(errors)
    assert report.blocking() == {}, report.failure_message()
