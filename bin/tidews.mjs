#!/usr/bin/env node
// The `tidews` command. Subcommands are filled in as the library grows.
const [command, ...rest] = process.argv.slice(2);

const usage = `usage: tidews <command> [options]

commands:
  echo     the echo server (not built yet)
  demo     the demo chat server (not built yet)
`;

switch (command) {
  case "demo":
    console.error(
      "tidews demo: the demo server is not built yet (see the issue 'The demo: npm start runs a live chat').\n" +
        "For now: `npm test` runs the test suite and `npm run bench:pool` the pool benchmark.",
    );
    process.exit(1);
    break;
  case undefined:
  case "help":
  case "--help":
  case "-h":
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(`tidews: unknown command '${command}' ${rest.join(" ")}\n${usage}`);
    process.exit(2);
}
