// `tidews demo` as a user runs it: `node bin/tidews.mjs demo ...` (what `npm start` runs after
// building), in a child process whose log is read line by line.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";

const root = new URL("../../", import.meta.url).pathname;
let built = false;

/** Builds dist/ if it is older than src/ (`npm start` does the same first). */
export function ensureBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, ["scripts/build.mjs", "--if-needed"], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  built = true;
}

/** How a demo process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/** One running `tidews demo`. */
export class DemoProcess {
  private constructor(
    private readonly child: ChildProcess,
    /** The URL from the first log line. */
    readonly url: string,
    private readonly out: { text: string },
    private readonly exit: Promise<Exit>,
  ) {}

  /**
   * Starts `tidews demo` with `args` and resolves once it printed its banner (with the URL it
   * listens on).
   *
   * @throws Error with the process's output when it exits first
   */
  static async start(
    args: readonly string[],
    env: Readonly<Record<string, string>> = {},
  ): Promise<DemoProcess> {
    ensureBuilt();
    const child = spawn(process.execPath, ["bin/tidews.mjs", "demo", ...args], {
      cwd: root,
      env: { ...process.env, PORT: "", HOST: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = { text: "" };
    const exit = new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal, output: out.text }));
    });
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        out.text += chunk.toString();
        const m = /listening on (http:\/\/\S+\/)/.exec(out.text);
        // The banner ends with this line.
        if (m?.[1] !== undefined && out.text.includes("Ctrl-C to stop.")) resolve(m[1]);
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      exit.then((e) =>
        reject(new Error(`tidews demo exited (${e.code}) before listening:\n${e.output}`)),
      );
    });
    return new DemoProcess(child, url, out, exit);
  }

  /** Runs `tidews demo` with `args` to its end (for commands that exit by themselves). */
  static async run(
    args: readonly string[],
    env: Readonly<Record<string, string>> = {},
  ): Promise<Exit> {
    ensureBuilt();
    const child = spawn(process.execPath, ["bin/tidews.mjs", "demo", ...args], {
      cwd: root,
      env: { ...process.env, PORT: "", HOST: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    return { code, signal, output };
  }

  /** What the process printed so far. */
  get output(): string {
    return this.out.text;
  }

  /** `ws://host:port/`. */
  get wsUrl(): string {
    return this.url.replace(/^http/, "ws");
  }

  /** Sends `signal` (Ctrl-C by default) and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exit;
  }
}
