import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * The demo's static pages: every file of one folder, read once at start (the folder is small),
 * served by exact name. Nothing outside the folder can be reached: a request path is looked up in
 * the table of names, never joined onto the file system.
 */
export class StaticFiles {
  private readonly assets = new Map<string, Asset>();

  /**
   * @param dir - the folder to serve
   * @param aliases - extra request paths for a file, e.g. `{ "/": "index.html" }`
   */
  constructor(dir: string, aliases: Readonly<Record<string, string>> = {}) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const type = CONTENT_TYPES[extname(entry.name)] ?? "application/octet-stream";
      this.assets.set(`/${entry.name}`, { body: readFileSync(join(dir, entry.name)), type });
    }
    for (const [path, name] of Object.entries(aliases)) {
      const asset = this.assets.get(`/${name}`);
      if (asset === undefined) throw new Error(`static files: ${name} is missing in ${dir}`);
      this.assets.set(path, asset);
    }
  }

  /** True when `path` names a file. */
  has(path: string): boolean {
    return this.assets.has(path);
  }

  /**
   * Answers a GET or HEAD for `path`.
   *
   * @returns false when there is no such file (nothing was written)
   */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const asset = this.assets.get(path);
    if (asset === undefined) return false;
    res.writeHead(200, {
      "content-type": asset.type,
      "content-length": asset.body.length,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    });
    res.end(req.method === "HEAD" ? undefined : asset.body);
    return true;
  }
}
