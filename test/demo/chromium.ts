// Debian's Chromium driven by playwright-core (the system binary: nothing is downloaded), with a
// fresh profile per launch. Screenshots go to reports/demo/ (gitignored), kept as test artifacts.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { findChromium, gate, hasPlaywright } from "../interop/gate.js";
import { summarisePng } from "./png.js";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where the screenshots go. */
export const ARTIFACTS = new URL("../../reports/demo/", import.meta.url).pathname;

const chromiumPath = findChromium();

/** `describe` options: skipped outside CI when Chromium or playwright-core is missing. */
export function browserGate(): { skip?: string } {
  return gate(
    chromiumPath === undefined
      ? `chromium not installed (${process.env.TIDEWS_CHROMIUM ?? "/usr/bin/chromium"})`
      : hasPlaywright()
        ? undefined
        : "playwright-core not installed (npm install)",
  );
}

/** A headless Chromium with its own profile; pages opened from it are tabs of one browser. */
export class Chromium {
  private constructor(
    readonly context: BrowserContext,
    private readonly profile: string,
    /** Console lines and page errors of every page, for failure messages. */
    readonly log: string[],
  ) {}

  static async launch(): Promise<Chromium> {
    const { chromium } = await import("playwright-core");
    const profile = mkdtempSync(join(tmpdir(), "tidews-demo-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath as string,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
    const log: string[] = [];
    return new Chromium(context, profile, log);
  }

  /** A new tab at `url`. */
  async open(url: string): Promise<Page> {
    const page = await this.context.newPage();
    page.on("console", (m) => {
      this.log.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => {
      this.log.push(`page error: ${e.message}`);
    });
    // Shorter than a test's 30 s: a locator that never matches fails with its own message.
    page.setDefaultTimeout(15_000);
    await page.goto(url);
    return page;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/**
 * Takes a screenshot of `page`, saves it as `reports/demo/<name>.png` and checks that it is not
 * blank: many colours and some contrast, as a page with text and charts has.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const png = await page.screenshot({ fullPage: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  writeFileSync(file, png);
  const s = summarisePng(png);
  assert.ok(s.width >= 1000 && s.height >= 600, `${name}: ${s.width}x${s.height}`);
  assert.ok(s.colours >= 64, `${name}: only ${s.colours} colours (blank page?)`);
  assert.ok(s.lumaDeviation >= 8, `${name}: luminance deviation ${s.lumaDeviation.toFixed(1)}`);
  return file;
}

/** The text of the element with id `id`. */
export async function textOf(page: Page, id: string): Promise<string> {
  return (await page.locator(`#${id}`).textContent()) ?? "";
}

/** How long {@link untilText} waits: less than a test's 30 s, so a miss says what it waited for. */
const UNTIL_TEXT_MS = 15_000;

/**
 * Waits until the text of the element with id `id` matches `want` (a RegExp, or a string that
 * must match exactly). A MutationObserver in the page checks again on every change to the
 * document: no sleeping, no polling.
 *
 * Not `page.waitForFunction`: its default polling runs on animation frames, which Chromium gives
 * late to a tab that is not the front one (opening a second page puts the first behind it). Here
 * that cost about 1 s in most runs; one local run waited at such a step past the test's 30 s, and
 * a CI run timed out in the same test.
 *
 * @throws AssertionError after 15 s, with the element's last text
 */
export async function untilText(page: Page, id: string, want: string | RegExp): Promise<void> {
  const re =
    typeof want === "string"
      ? new RegExp(`^${want.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`)
      : want;
  // A string, not a function: tsx would add helpers (`__name`) that the page does not have.
  const wait = `new Promise((resolve) => {
    const pattern = new RegExp(${JSON.stringify(re.source)}, ${JSON.stringify(re.flags)});
    const text = () => document.getElementById(${JSON.stringify(id)})?.textContent ?? null;
    const matches = () => { const t = text(); return t !== null && pattern.test(t); };
    if (matches()) return resolve({ ok: true, text: text() });
    const observer = new MutationObserver(() => {
      if (!matches()) return;
      observer.disconnect();
      clearTimeout(timer);
      resolve({ ok: true, text: text() });
    });
    observer.observe(document, { subtree: true, childList: true, characterData: true });
    const timer = setTimeout(() => {
      observer.disconnect();
      resolve({ ok: false, text: text() });
    }, ${UNTIL_TEXT_MS});
  })`;
  const got = (await page.evaluate(wait)) as { ok: boolean; text: string | null };
  assert.ok(
    got.ok,
    `#${id} did not come to match ${re} within ${UNTIL_TEXT_MS} ms; its text: ${JSON.stringify(got.text)}`,
  );
}
