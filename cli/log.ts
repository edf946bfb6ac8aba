/**
 * Diagnostics on stderr, never on stdout (stdout carries only command output, for pipes).
 * Levels as upstream's `-l/--log-level`: debug < info < warning < error; default warning.
 * Formats as `-L/--log-format`: basic (`warning: text`, the default here), json (one object per
 * line), rfc3339 (basic with a timestamp).
 */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["basic", "json", "rfc3339"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

let threshold = LOG_LEVELS.indexOf("warning");
let format: LogFormat = "basic";

export function configureLog(opts: { level?: string; format?: string }) {
  if (opts.level) {
    const level = opts.level === "warn" ? "warning" : opts.level;
    const i = LOG_LEVELS.indexOf(level as LogLevel);
    if (i >= 0) threshold = i;
  }
  if (opts.format && (LOG_FORMATS as readonly string[]).includes(opts.format)) format = opts.format as LogFormat;
}

function write(level: LogLevel, message: string) {
  if (LOG_LEVELS.indexOf(level) < threshold) return;
  if (format === "json") process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), message })}\n`);
  else if (format === "rfc3339") process.stderr.write(`${new Date().toISOString()} ${level}: ${message}\n`);
  else process.stderr.write(`${level}: ${message}\n`);
}

export const log = {
  debug: (m: string) => write("debug", m),
  info: (m: string) => write("info", m),
  warn: (m: string) => write("warning", m),
  error: (m: string) => write("error", m),
  enabled: (level: LogLevel) => LOG_LEVELS.indexOf(level) >= threshold,
};
