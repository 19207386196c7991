// `npm run fuzz` and `npm run soak` in their short modes, so the long-running scripts keep
// working: the fuzzer's summary table names every target with no failure, and the soak's CI mode
// finds memory back at its baseline after churn and echo.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";

const root = new URL("../..", import.meta.url).pathname;

function run(
  script: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("hardening scripts", () => {
  it("npm run fuzz -- --seconds 8: every target tried, no failure", () => {
    const r = run("scripts/fuzz.ts", ["--seconds", "8", "--seed", "1", "--batch", "20"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const target of ["frames", "handshake", "extensions", "inflate"]) {
      const row = r.stdout.split("\n").find((l) => l.startsWith(target));
      assert.ok(row !== undefined, `a row for ${target}`);
      const [, inputs, , failures] = row.trim().split(/\s+/);
      assert.ok(Number.parseFloat(inputs ?? "0") > 0, `${target} tried inputs: ${row}`);
      assert.equal(failures, "0");
    }
  });

  it("npm run soak -- --ci --seconds 2: memory back to baseline", () => {
    const r = run("scripts/soak.ts", ["--ci", "--seconds", "2", "--clients", "50"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /memory back to baseline after each phase/);
    assert.match(r.stdout, /churn .* cycles/);
  });
});
