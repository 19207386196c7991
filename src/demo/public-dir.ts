import { fileURLToPath } from "node:url";

/**
 * The folder of the demo's pages: `public/` beside this module, in `src/demo/` when run from the
 * sources and in `dist/esm/demo/` after the build (which copies the folder). The demo, like the
 * whole `tidews` command, is ESM only: the CommonJS build leaves `src/cli` and `src/demo` out.
 */
export function publicDir(): string {
  return fileURLToPath(new URL("./public/", import.meta.url));
}
