import { readFileSync } from "node:fs";
import pkg from "../package.json";
import { ApiClient, type ApiService } from "../shared/api-client/client";
import type { TlsOptions } from "../shared/api-client/http";
import { parseDuration } from "../shared/duration";
import {
  type AdminCredential,
  adminCredentialFile,
  findHeadNode,
  type LocalHeadNode,
  readAdminCredential,
  stateDirOf,
} from "../shared/head-node-state";
import { type Credential, TokenProvider } from "./auth/tokens";
import { cacheDir, expandPath, type LoadedConfig, loadConfig } from "./config/files";
import { type ClusterConfig, DEFAULT_BASE_PATHS, type InputFormat, type OutputFormat, type Service, tokenEnvName } from "./config/schema";
import { AuthError, UsageError } from "./errors";
import { configureLog, log } from "./log";

export const VERSION: string = pkg.version;

/** Options of the root command, as commander hands them to every subcommand. */
export interface GlobalOptions {
  config?: string;
  ignoreConfig?: boolean;
  cluster?: string;
  clusterUri?: string;
  cacert?: string;
  insecure?: boolean;
  /** A string from -t/--token; false from --no-token. */
  token?: string | false;
  logLevel?: string;
  logFormat?: string;
  /** Upstream's -v: debug logs unless -l says otherwise. */
  verbose?: boolean;
  showToken?: boolean;
  timeout?: string;
  /** A service command's --uri (smd, bss, cloud-init). */
  uri?: string;
}

export interface ResolvedCluster {
  /** Undefined for an ad-hoc --cluster-uri and for the local head node. */
  name?: string;
  config: ClusterConfig;
  /** The head node `npm start` runs on this machine, talked to when no cluster is configured. */
  headNode?: LocalHeadNode;
}

/**
 * Everything a command needs from the global options and the configuration files, resolved
 * lazily (so `ochami config ...` works with no cluster defined, and `--help` reads nothing).
 */
export class Context {
  private loadedConfig?: LoadedConfig;
  private apiClient?: ApiClient;
  private tokenProvider?: TokenProvider | null;

  constructor(
    readonly opts: GlobalOptions,
    /** The service a command belongs to, whose base URL a --uri replaces. */
    readonly service: Service | undefined,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    configureLog({ level: opts.logLevel ?? (opts.verbose ? "debug" : undefined), format: opts.logFormat });
  }

  /** Read on first use: `ochami --config new.yaml config set ...` must work on a file not there yet. */
  get loaded(): LoadedConfig {
    if (!this.loadedConfig) {
      this.loadedConfig = loadConfig({ configFile: this.opts.config, ignore: this.opts.ignoreConfig }, this.env);
      const log = this.loadedConfig.config.log ?? {};
      configureLog({
        level: this.opts.logLevel ?? (this.opts.verbose ? "debug" : log.level),
        format: this.opts.logFormat ?? log.format,
      });
    }
    return this.loadedConfig;
  }

  get config() {
    return this.loaded.config;
  }

  inputFormat(): InputFormat | undefined {
    return this.config["default-input-format"];
  }

  outputFormat(): OutputFormat | undefined {
    return this.config["default-output-format"];
  }

  timeoutMs(): number {
    const raw = this.opts.timeout ?? this.config.timeout;
    if (raw === undefined) return 30_000;
    const ms = parseDuration(String(raw));
    if (ms === undefined || ms <= 0) throw new UsageError(`timeout must be a duration such as 30s or 2m, not '${raw}'`);
    return ms;
  }

  cluster(): ResolvedCluster {
    const clusters = this.config.clusters ?? [];
    if (this.opts.clusterUri) {
      if (this.opts.cluster) throw new UsageError("--cluster and --cluster-uri cannot be used together");
      return { config: { uri: this.opts.clusterUri.replace(/\/+$/, "") } };
    }
    const wanted = this.opts.cluster ?? this.config["default-cluster"] ?? (clusters.length === 1 ? clusters[0].name : undefined);
    if (!wanted) {
      if (clusters.length)
        throw new UsageError(
          `several clusters are configured (${clusters.map((c) => c.name).join(", ")}): pass --cluster <name> or set default-cluster`,
        );
      // No cluster configured: the head node of this machine, when `npm start` runs here.
      const headNode = findHeadNode(this.env);
      if (headNode) {
        if (!/^https?:\/\/[^/]/i.test(headNode.url))
          throw new UsageError(
            `the head node state in ${headNode.stateDir} names no API URL ('${headNode.url}' in api.json, or OCHAMI_URL): ` +
              "restart `npm start`, or set OCHAMI_URL to the API's URL",
          );
        return { config: { uri: headNode.url }, headNode };
      }
      throw new UsageError(
        `no cluster configured (config files read: ${this.loaded.files.length ? this.loaded.files.join(", ") : "none"}) ` +
          `and no \`npm start\` state in ${stateDirOf(this.env)}: configure one ` +
          "(ochami config cluster set --default demo cluster.uri http://127.0.0.1:8081), pass --cluster-uri <uri>, " +
          "or set OCHAMI_STATE_DIR to the state directory of the head node's `npm start`",
      );
    }
    const entry = clusters.find((c) => c.name === wanted);
    if (!entry)
      throw new UsageError(
        `no cluster named '${wanted}' in the configuration${clusters.length ? ` (known: ${clusters.map((c) => c.name).join(", ")})` : ""}`,
      );
    return { name: entry.name, config: entry.cluster ?? {} };
  }

  tls(): TlsOptions {
    const cluster = this.opts.clusterUri ? undefined : this.tryCluster();
    const cafile = this.opts.cacert ?? cluster?.config.cacert;
    let ca: Buffer | undefined;
    if (cafile) {
      try {
        ca = readFileSync(expandPath(cafile));
      } catch (err) {
        throw new UsageError(`cannot read the CA bundle ${cafile}: ${(err as Error).message}`);
      }
    }
    return { ca, insecure: this.opts.insecure ?? cluster?.config.insecure ?? false };
  }

  private tryCluster(): ResolvedCluster | undefined {
    try {
      return this.cluster();
    } catch {
      return undefined;
    }
  }

  /** Base URL of a service: --uri, then cluster.<service>.uri, then cluster.uri + the default path. */
  baseUrl(service: ApiService): string {
    const cluster = this.cluster();
    const root = cluster.config.uri;
    const join = (uri: string, what: string) => {
      if (/^https?:\/\//i.test(uri)) return uri.replace(/\/+$/, "");
      if (!root) throw new UsageError(`${what} is the relative path '${uri}', which needs cluster.uri`);
      return `${root}/${uri.replace(/^\/+/, "").replace(/\/+$/, "")}`;
    };
    if (service === "root") {
      if (!root) throw new UsageError(`cluster ${cluster.name ?? ""} has no cluster.uri`);
      return root;
    }
    if (this.opts.uri && this.service === service) return join(this.opts.uri, "--uri");
    const own = cluster.config[service]?.uri;
    if (own) return join(own, `cluster.${service}.uri`);
    if (!root)
      throw new UsageError(
        `cluster ${cluster.name ?? ""} has no URI: ochami config cluster set ${cluster.name ?? "<name>"} cluster.uri https://<host>:8443`,
      );
    return root + DEFAULT_BASE_PATHS[service];
  }

  tokenEnvName(): string {
    const c = this.cluster();
    return c.name ? tokenEnvName(c.name) : "OCHAMI_ACCESS_TOKEN";
  }

  /** Undefined when no token is to be sent (--no-token, enable-auth: false). */
  tokens(): TokenProvider | undefined {
    if (this.tokenProvider !== undefined) return this.tokenProvider ?? undefined;
    const cluster = this.cluster();
    if (this.opts.token === false || cluster.config["enable-auth"] === false) {
      this.tokenProvider = null;
      return undefined;
    }
    const credential = this.credential();
    this.tokenProvider = new TokenProvider({
      renewal: (origin) => this.renewal(cluster, origin),
      showToken: this.opts.showToken,
      envName: this.tokenEnvName(),
      flagToken: typeof this.opts.token === "string" ? this.opts.token : undefined,
      credential,
      cacheDir: cacheDir(this.env),
      tls: this.tls(),
      timeoutMs: this.timeoutMs(),
      env: this.env,
    });
    return this.tokenProvider;
  }

  /**
   * What gets a new token when a given one (--token, the variable) has expired and no credential
   * is stored, as a command that works here: on the head node serving this cluster, its admin
   * client (`--ignore-config` makes the CLI use it, under the variable OCHAMI_ACCESS_TOKEN, so the
   * expired variable is not read); elsewhere a stored credential, whose tokens renew themselves.
   */
  private renewal(cluster: ResolvedCluster, origin: string): string {
    const envName = this.tokenEnvName();
    const headNode = findHeadNode(this.env);
    const same = (a: string, b?: string) => {
      try {
        return b !== undefined && new URL(a).origin === new URL(b).origin;
      } catch {
        return false;
      }
    };
    if (headNode && cluster.name && same(headNode.url, cluster.config.uri))
      return `get a new one from this head node: export ${envName}=$(ochami --ignore-config auth token)`;
    const login = cluster.name
      ? `ochami${this.opts.cluster ? ` --cluster ${cluster.name}` : ""} auth login --client-id <client id>`
      : `ochami config cluster set <name> cluster.uri ${cluster.config.uri ?? "<uri>"} && ochami --cluster <name> auth login --client-id <client id>`;
    const drop = origin === "--token" ? "drop --token and run" : `unset ${origin};`;
    return `get a new one from your token issuer, or store a client credential, whose tokens renew themselves: ${drop} ${login}`;
  }

  /** The cluster's stored client credential, if it has one; on the local head node, its admin client. */
  credential(): Credential | undefined {
    const cluster = this.cluster();
    if (cluster.headNode) return headNodeCredential(cluster.headNode);
    const c = cluster.config;
    if (!c["client-id"] || (!c["client-secret-file"] && !c["client-secret"])) return undefined;
    return {
      clientId: c["client-id"],
      secretFile: c["client-secret-file"] ? expandPath(c["client-secret-file"]) : undefined,
      secret: c["client-secret"],
      tokenUrl: c["token-uri"] ?? `${this.baseUrl("root")}/token`,
      scope: c.scope,
    };
  }

  api(): ApiClient {
    this.apiClient ??= new ApiClient({
      baseUrl: (s) => this.baseUrl(s),
      tokens: this.tokens(),
      tls: this.tls(),
      timeoutMs: this.timeoutMs(),
      userAgent: `ochami-edge/${VERSION}`,
      log,
    });
    return this.apiClient;
  }
}

/**
 * The admin client `npm start` created, as a credential with its secret inline. Tokens cached
 * before the head node's last start are not reused: a start applies keys rotated or pruned since.
 */
function headNodeCredential(headNode: LocalHeadNode): Credential {
  const restart = `: \`npm start\` writes it on its first start with this state directory (OCHAMI_STATE_DIR, default <checkout>/.state)`;
  let admin: AdminCredential;
  try {
    admin = readAdminCredential(headNode.stateDir);
  } catch (err) {
    throw new AuthError(`${(err as Error).message.replace(/, open '[^']*'$/, "")}${restart}`);
  }
  if (typeof admin?.client_id !== "string" || typeof admin.client_secret !== "string" || !admin.client_id || !admin.client_secret)
    throw new AuthError(
      `the head node's admin client ${adminCredentialFile(headNode.stateDir)} has no client_id and client_secret${restart}`,
    );
  return {
    clientId: admin.client_id,
    secret: admin.client_secret,
    tokenUrl: `${headNode.url}/token`,
    issuedSince: Math.floor(headNode.startedAt / 1000),
    // The API answering at the recorded URL is not the one this state directory belongs to.
    refusalHint:
      `the API at ${headNode.url} does not know ${admin.client_id}, the admin client of ${headNode.stateDir}: it runs with another ` +
      "state directory. Set OCHAMI_STATE_DIR to that one, or restart `npm start` with this one",
  };
}
