import { type DemoServer, startDemo } from "./demo-server.js";

/** Where the demo writes its log lines; stdout by default. */
export type LogLine = (line: string) => void;

/** The demo's settings from argv and the environment. */
export interface DemoArgs {
  readonly port: number;
  readonly host: string;
  readonly redis: string | undefined;
}

const DEMO_USAGE = `usage: tidews demo [--port P] [--host H] [--redis redis://host:port]

  --port P       port to listen on (default: $PORT, else 8080; 0 picks a free port)
  --host H       address to bind (default: $HOST, else 127.0.0.1)
  --redis URL    share the rooms with other demo processes through this Redis
`;

/** Reads `--name value` or `--name=value` from argv. */
function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) {
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) throw new Error(`--${name} needs a value`);
    return value;
  }
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function parsePort(text: string, where: string): number {
  const port = Number(text);
  if (text.trim() === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${where}: expected a port number (0 to 65535), got '${text}'`);
  }
  return port;
}

/**
 * Reads the demo's settings: flags first, then `PORT` and `HOST`, then 127.0.0.1:8080.
 *
 * @throws Error with a one-line message for a bad value
 */
export function parseDemoArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): DemoArgs {
  const known = new Set(["--port", "--host", "--redis"]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = arg.split("=")[0] as string;
    if (!known.has(name)) throw new Error(`unknown option '${arg}'`);
    if (!arg.includes("=")) i++;
  }
  const portFlag = flag(argv, "port");
  const port =
    portFlag !== undefined
      ? parsePort(portFlag, "--port")
      : env.PORT !== undefined && env.PORT !== ""
        ? parsePort(env.PORT, "PORT")
        : 8080;
  const host =
    flag(argv, "host") ?? (env.HOST !== undefined && env.HOST !== "" ? env.HOST : "127.0.0.1");
  const redis = flag(argv, "redis");
  if (redis !== undefined && !/^rediss?:\/\//.test(redis)) {
    throw new Error(`--redis: expected a redis:// URL, got '${redis}'`);
  }
  return { port, host, redis };
}

/** The lines printed once the demo listens. */
export function startBanner(demo: DemoServer, redis: string | undefined): string[] {
  // Bound to every address: a browser on this machine opens the loopback one.
  const open =
    demo.host === "0.0.0.0"
      ? `http://127.0.0.1:${demo.port}/`
      : demo.host === "::"
        ? `http://[::1]:${demo.port}/`
        : demo.url;
  const ws = open.replace(/^http/, "ws");
  return [
    `tidews demo (node ${demo.node}) listening on ${demo.url}`,
    "",
    `  chat       ${open}          <- open this in two tabs`,
    `  dashboard  ${open}dashboard`,
    `  echo       ${ws}echo`,
    `  redis      ${redis ?? "off (one process; --redis redis://... to share rooms)"}`,
    "",
    "Ctrl-C to stop.",
  ];
}

/**
 * The `tidews demo` command: starts the demo, prints where to open it, and shuts down cleanly on
 * SIGINT or SIGTERM (every client gets 1001 Going Away).
 *
 * @returns the running demo, or undefined after `--help`
 */
export async function runDemo(
  argv: readonly string[],
  log: LogLine = (line) => process.stdout.write(`${line}\n`),
): Promise<DemoServer | undefined> {
  if (argv.includes("--help") || argv.includes("-h")) {
    log(DEMO_USAGE.trimEnd());
    return undefined;
  }
  const args = parseDemoArgs(argv);
  let demo: DemoServer;
  try {
    demo = await startDemo({ port: args.port, host: args.host, redis: args.redis });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new Error(`${args.host}:${args.port} is in use; try --port 0 or PORT=8081`);
    }
    throw error;
  }
  for (const line of startBanner(demo, args.redis)) log(line);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    const n = demo.server.connections.size;
    log(`${signal}: closing ${n} connection${n === 1 ? "" : "s"} with 1001 Going Away`);
    demo.close().then(
      () => {
        log("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  return demo;
}
