"""What a coordinator sees in the first ten seconds of `make demo`, as screenshots (not a test).

Against a running system (`make run`, default ports): opens http://127.0.0.1:8003/dashboard in headless Chromium at
1280x720, signs in as the local coordinator, starts `python -m services.crisis_center.dashboard demo`, and saves
`artifacts/screenshots/demo-00s.png` (before), `demo-03s.png`, `demo-06s.png`, `demo-09s.png` (seconds after the
demo started), then `demo-selected.png` once the demo has finished, with its crisis selected.
Run: `.venv/bin/python -m tests.ui.demo_screenshots [--user coordinator --password coordinator-local]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

SHOTS = Path("artifacts/screenshots")
MOMENTS = (3.0, 6.0, 9.5)


async def watch(url: str, user: str, password: str) -> int:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page(viewport=VIEWPORT, locale="en-GB")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{url}/dashboard")
        await page.get_by_label("User name").fill(user)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator("#live[data-state='on']").wait_for(timeout=30_000)
        await page.screenshot(path=SHOTS / "demo-00s.png")
        demo = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.crisis_center.dashboard", "demo")
        started = time.monotonic()
        for moment in MOMENTS:
            await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
            await page.screenshot(path=SHOTS / f"demo-{int(moment):02d}s.png")
            cards = await page.locator(".crisis-card").all_inner_texts()
            print(f"t+{moment:>4}s: {' | '.join(c.replace(chr(10), ' ') for c in cards) or 'no active crisis'}")
        code = await demo.wait()
        card = page.locator(".crisis-card").first
        if await card.count():
            await card.click()
            await page.locator("#delivery").wait_for(state="visible", timeout=30_000)
            await page.wait_for_timeout(3000)
        await page.screenshot(path=SHOTS / "demo-selected.png")
        await browser.close()
    if errors:
        print(f"JavaScript errors: {errors}", file=sys.stderr)
    return code or (1 if errors else 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8003")
    parser.add_argument("--user", default="coordinator")
    parser.add_argument("--password", default="coordinator-local")
    args = parser.parse_args()
    SHOTS.mkdir(parents=True, exist_ok=True)
    return asyncio.run(watch(args.url, args.user, args.password))


if __name__ == "__main__":
    raise SystemExit(main())
