import path from "node:path";

/**
 * Environment that keeps wrangler and miniflare on loopback: no telemetry, no error reports, no
 * npm update check, and no download of the `request.cf` data miniflare otherwise fetches from
 * Cloudflare at start. Their config and temp files stay inside the state directory instead of
 * the user's home.
 */
export function quietWranglerEnv(stateDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    XDG_CONFIG_HOME: path.join(stateDir, "xdg"),
    WRANGLER_LOG_PATH: path.join(stateDir, "logs"),
  };
}
