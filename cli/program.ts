import { Command, Option } from "commander";
import { authCommand } from "./commands/auth";
import { bssCommand } from "./commands/bss";
import { cloudInitCommand } from "./commands/cloud-init";
import { configCommand } from "./commands/config";
import { act, examples } from "./commands/define";
import { discoverCommand } from "./commands/discover";
import { generateCommand } from "./commands/generate";
import { smdCommand } from "./commands/smd";
import { VERSION } from "./context";

const EPILOG = `
Version: ochami --version (or -V, first on the line), or ochami version.
Configuration: /etc/ochami/config.yaml, then ~/.config/ochami/config.yaml (user wins).
Cluster: --cluster or --cluster-uri, else default-cluster, else the only cluster configured. With
no cluster configured, on the head node (where \`npm start\` runs: its state in OCHAMI_STATE_DIR,
default <checkout>/.state) the CLI talks to the API it serves (OCHAMI_URL overrides) as its admin
client. A configured cluster always wins.
Token: --token, else <CLUSTER>_ACCESS_TOKEN (cluster demo: DEMO_ACCESS_TOKEN), else the client
credential stored by \`ochami auth login\` (tokens obtained and refreshed automatically).

Exit codes:
  0  success
  1  the request failed (API error answer, API unreachable)
  2  usage error (arguments, input data, configuration)
  3  authentication (no usable token, 401 or 403)
  4  partial failure (some items failed, e.g. unreachable BMCs)`;

/** The whole command tree (upstream ochami's, plus auth, discover redfish and generate). */
export function buildProgram(): Command {
  const program = new Command("ochami")
    .description("command line for the OpenCHAMI API (SMD, BSS, cloud-init, auth) of ochami-edge")
    .exitOverride()
    .showSuggestionAfterError()
    .option("-c, --config <file>", "read only this configuration file (and write to it)")
    .option("--ignore-config", "read no configuration file")
    .addOption(new Option("-C, --cluster <name>", "cluster to talk to (default: default-cluster)").conflicts("clusterUri"))
    .option("-u, --cluster-uri <uri>", "base URI of the API, instead of a configured cluster")
    .option("--cacert <pem>", "CA bundle to verify the API's certificate with")
    .option("-k, --insecure", "do not verify the API's TLS certificate")
    .option("-t, --token <token>", "access token (default: <CLUSTER>_ACCESS_TOKEN, then the stored client credential)")
    .option("--no-token", "send no token (the API runs with OCHAMI_AUTH=off)")
    .option("--timeout <duration>", "HTTP timeout, e.g. 30s (default: config timeout, else 30s)")
    .addOption(new Option("-l, --log-level <level>", "log level").choices(["debug", "info", "warning", "warn", "error"]))
    .addOption(new Option("-L, --log-format <format>", "log format").choices(["basic", "json", "rfc3339"]))
    // Upstream's other global flags, so its scripts run unchanged: -v (early verbose) is -l debug
    // here; logs are plain text, so --log-color changes nothing.
    .option("-v, --verbose", "debug logs (as -l debug)")
    .option("--show-token", "with debug logs, show the whole token sent (default: its first characters)")
    .addOption(new Option("--log-color <when>", "accepted for upstream's scripts; logs are not coloured").choices(["auto", "on", "off"]));
  program.addHelpText("after", EPILOG);
  examples(program, [
    "ochami config cluster set --default demo cluster.uri http://127.0.0.1:8081",
    "ochami auth login --client-id ochami-cli --secret-file ~/.config/ochami/demo.secret",
    "ochami smd component get -F table",
    "ochami discover static --overwrite -d @nodes.yaml --cluster-file cluster.yaml",
  ]);

  program
    .addCommand(configCommand())
    .addCommand(authCommand())
    .addCommand(smdCommand())
    .addCommand(bssCommand())
    .addCommand(cloudInitCommand())
    .addCommand(discoverCommand())
    .addCommand(generateCommand());

  const version = act(new Command("version").description("print the version of this CLI"), async () => {
    process.stdout.write(`${VERSION}\n`);
  });
  examples(version, ["ochami version"]);
  program.addCommand(version);
  inheritSettings(program);
  return program;
}

/** addCommand() does not pass settings down (only .command() does): exit override, suggestions, output. */
function inheritSettings(cmd: Command) {
  for (const sub of cmd.commands) {
    sub.copyInheritedSettings(cmd);
    inheritSettings(sub);
  }
}
