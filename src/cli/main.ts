import { runConformanceCli } from "../conformance/cli.js";
import { runDemo } from "../demo/cli.js";
import { startEchoServer } from "./echo.js";

const USAGE = `usage: tidews <command> [options]

commands:
  echo [--port P] [--host H] [--deflate]   the echo server (prints "listening <port>")
  demo [--port P] [--host H] [--redis URL] the demo: chat, live dashboard, echo (http://127.0.0.1:8080)
  conformance <role> [options]             the conformance suite (tidews conformance help)
  help                                     this text
`;

/** Reads `--name value` from argv. */
function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

async function echo(argv: readonly string[]): Promise<void> {
  const portText = flag(argv, "port") ?? "0";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port: expected a port number, got '${portText}'`);
  }
  const server = await startEchoServer({
    port,
    host: flag(argv, "host") ?? "127.0.0.1",
    deflate: argv.includes("--deflate"),
  });
  process.stdout.write(`listening ${server.port}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

/** Runs the `tidews` command line. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "echo":
      await echo(rest);
      return -1; // keeps running
    case "conformance":
      return runConformanceCli(rest, { startEchoServer });
    case "demo":
      return (await runDemo(rest)) === undefined ? 0 : -1; // keeps running
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`tidews: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}
