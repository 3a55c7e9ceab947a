// Loads tallyd's dashboard in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is downloaded), signs in with a read
// token, shows one campaign, and prints what the page shows as JSON: the
// totals cards, the funnel, the device split, sent per message, the journeys, the
// sums of the hourly charts, and every console error, failed request and
// request to another origin. Then it picks MESSAGE and prints the same for
// that message's view. Saves a screenshot of each view.
// Usage: node dashboard.mjs BASE_URL TOKEN CAMPAIGN SCREENSHOT MESSAGE
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, token, campaign, screenshot, message] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "tally-chromium-"));
const problems = [];
const origin = new URL(base).origin;

// A persistent context is how playwright-core passes --user-data-dir: a
// fresh, empty profile directory per run.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  timeout: 20000,
  viewport: { width: 1280, height: 1500 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  page.on("console", (msg) => { if (msg.type() === "error") problems.push("console: " + msg.text()); });
  page.on("pageerror", (err) => problems.push("page error: " + err.message));
  page.on("requestfailed", (req) => problems.push("request failed: " + req.url()));
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith("data:")) problems.push("outside request: " + url);
  });

  await page.goto(base + "/dashboard");
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("body[data-loaded]");
  await page.selectOption("#campaign", campaign);
  await page.waitForSelector(`body[data-loaded="${campaign}"]`);
  await page.waitForSelector("#chart-events .uplot");

  const read = () => page.evaluate(() => {
    const values = (selector) => Object.fromEntries(
      [...document.querySelectorAll(selector)].map((e) => [e.dataset.field, e.dataset.value]));
    return {
      title: document.getElementById("title").textContent,
      cards: values("#totals [data-field]"),
      cardLabels: Object.fromEntries([...document.querySelectorAll("#totals [data-field]")]
        .map((e) => [e.dataset.field, e.querySelector(".label").textContent])),
      funnel: values("#funnel [data-field]"),
      devices: values("#devices [data-field]"),
      messageSent: Object.fromEntries([...document.querySelectorAll("#messages tr[data-message]")]
        .map((e) => [e.dataset.message, e.dataset.sent])),
      journeys: document.querySelectorAll("#journeys tr[data-order]").length,
      touches: document.querySelectorAll("#journeys .touch").length,
      charts: document.querySelectorAll(".uplot").length,
      chartSums: { ...document.getElementById("chart-events").dataset,
                   ...document.getElementById("chart-revenue").dataset },
      messageOrders: Object.fromEntries([...document.querySelectorAll("#messages tr[data-message]")]
        .map((e) => [e.dataset.message, e.dataset.orders])),
      selected: [...document.querySelectorAll("#messages tr.selected")].map((e) => e.dataset.message),
      journeyMessages: [...document.querySelectorAll("#journeys tr[data-order]")]
        .map((e) => e.dataset.message),
      stored: Object.keys(sessionStorage),
      kept: Object.keys(localStorage),
    };
  });
  const shown = await read();
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.selectOption("#message", message);
  await page.waitForSelector(`body[data-message="${message}"]`);
  await page.waitForSelector("#chart-events .uplot");
  const picked = await read();
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-message.png"), fullPage: true });
  console.log(JSON.stringify({ ...shown, message: picked, problems }));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
