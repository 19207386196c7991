// Keeps the layering of docs/architecture.md true: lower layers never import higher ones, and
// the protocol core imports nothing from node:.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

const src = new URL("../src/", import.meta.url).pathname;
const LAYERS = [
  "errors",
  "buffer",
  "protocol",
  "deflate",
  "runtime",
  "transport",
  "server",
  "client",
  "pubsub",
  "redis",
  "conformance",
  "demo",
  "cli",
];
/** server and client are siblings: neither may import the other. */
const SIBLINGS = new Set(["server>client", "client>server"]);

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

function layerOf(file: string): string {
  const rel = relative(src, file);
  const top = rel.split("/")[0] as string;
  return top.endsWith(".ts") ? top.replace(/\.ts$/, "") : top;
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*["']([^"']+)["']/g)) {
    out.push(m[1] as string);
  }
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1] as string);
  return out;
}

describe("architecture", () => {
  const all = files(src);

  it("has source files to check", () => {
    assert.ok(all.length > 5);
  });

  it("keeps node: imports, timers and sockets out of src/protocol", () => {
    for (const file of all.filter((f) => layerOf(f) === "protocol" || layerOf(f) === "errors")) {
      for (const spec of imports(file)) {
        assert.ok(
          !spec.startsWith("node:") && !/^(net|tls|http|zlib|crypto|fs)$/.test(spec),
          `${relative(src, file)} imports ${spec}`,
        );
      }
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(
        text,
        /\b(setTimeout|setInterval|setImmediate)\s*\(|\bprocess\.\w/,
        relative(src, file),
      );
    }
  });

  it("lets dependencies point down only", () => {
    for (const file of all) {
      const from = layerOf(file);
      if (from === "index") continue;
      for (const spec of imports(file)) {
        if (!spec.startsWith(".")) continue;
        const to = layerOf(resolve(dirname(file), spec).replace(/\.js$/, ".ts"));
        if (to === from) continue;
        const ok = SIBLINGS.has(`${from}>${to}`)
          ? false
          : LAYERS.indexOf(to) < LAYERS.indexOf(from);
        assert.ok(ok, `${relative(src, file)} (${from}) imports ${spec} (${to})`);
      }
    }
  });

  it("imports ioredis from src/redis only (the core has no runtime dependency)", () => {
    for (const file of all.filter((f) => layerOf(f) !== "redis")) {
      for (const spec of imports(file)) {
        assert.ok(!spec.startsWith("ioredis"), `${relative(src, file)} imports ${spec}`);
      }
    }
  });

  it("has no module-level mutable state in the core layers", () => {
    for (const file of all.filter((f) =>
      ["buffer", "protocol", "deflate", "runtime"].includes(layerOf(f)),
    )) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(
        text,
        /^(export )?let /m,
        `${relative(src, file)} has a module-level let`,
      );
    }
  });
});
