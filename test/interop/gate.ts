// Which real peers this machine has. Outside CI a missing peer skips its tests with a message
// naming what is missing; under CI (CI=true) nothing skips: a missing peer fails the run.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

export const UNDER_CI =
  process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";

/**
 * A Python 3 with the `websockets` package: TIDEWS_PYTHON if set, else Debian's /usr/bin/python3,
 * then `python3` from PATH (which may be another Python, without Debian's packages).
 */
export function findPython(): { python: string; version: string } | undefined {
  const candidates = process.env.TIDEWS_PYTHON
    ? [process.env.TIDEWS_PYTHON]
    : ["/usr/bin/python3", "python3"];
  for (const python of candidates) {
    try {
      const version = execFileSync(
        python,
        ["-c", "import websockets; print(websockets.__version__)"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
      ).trim();
      return { python, version };
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The system Chromium (Debian's `chromium`), or TIDEWS_CHROMIUM. */
export function findChromium(): string | undefined {
  const path = process.env.TIDEWS_CHROMIUM ?? "/usr/bin/chromium";
  return existsSync(path) ? path : undefined;
}

export function hasPlaywright(): boolean {
  try {
    createRequire(import.meta.url).resolve("playwright-core");
    return true;
  } catch {
    return false;
  }
}

/** The soft limit on open files of this process. */
export function openFileLimit(): number {
  try {
    const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
    return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
  } catch {
    return 0;
  }
}

/**
 * Options for a `describe` that needs a peer. `missing` names what is absent (undefined when
 * everything is there). Outside CI the suite is skipped with that message; under CI it runs
 * (and fails), and a separate test fails with the message so the log says why.
 */
export function gate(missing: string | undefined): { skip?: string } {
  if (missing === undefined) return {};
  if (UNDER_CI) {
    test(`required under CI: ${missing}`, () => {
      throw new Error(`CI=true but ${missing}; .ci/run installs it`);
    });
    return {};
  }
  return { skip: missing };
}
