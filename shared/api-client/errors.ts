import type { ApiResponse } from "./client";
import type { HttpResponse, NetworkError } from "./http";

export interface ApiErrorFields {
  url: string;
  /** Undefined when no answer came. */
  status?: number;
  statusText?: string;
  /** The answer's explanation: problem+json `detail`, OAuth `error_description`, else its text. */
  detail?: string;
  /** Where the bearer token sent came from (`client demo-cli`, `--token`); undefined when none was sent. */
  tokenOrigin?: string;
  /** The token endpoint refused the client or its scopes: an authentication failure, whatever the status. */
  tokenRefused?: boolean;
}

/**
 * Every failure of a call to the API or its token endpoint: an error answer (status, status text
 * and the body's detail), or no answer at all (`unreachable`). Processes log the message; the CLI
 * turns it into its exit codes and hints (cli/errors.ts).
 */
export class ApiError extends Error {
  readonly url: string;
  readonly status?: number;
  readonly statusText: string;
  readonly detail: string;
  readonly tokenOrigin?: string;
  readonly tokenRefused: boolean;

  constructor(message: string, fields: ApiErrorFields) {
    super(message);
    this.url = fields.url;
    this.status = fields.status;
    this.statusText = fields.statusText ?? "";
    this.detail = fields.detail ?? "";
    this.tokenOrigin = fields.tokenOrigin;
    this.tokenRefused = fields.tokenRefused ?? false;
  }

  /** No HTTP answer: connection refused, timeout, TLS failure, DNS. */
  get unreachable(): boolean {
    return this.status === undefined;
  }

  /** An error answer of the API: `409 Conflict: <detail>`. */
  static answer(res: ApiResponse): ApiError {
    const detail = errorDetail(res);
    return new ApiError(`${res.status} ${res.statusText}${detail ? `: ${detail}` : ""}`, {
      url: res.url,
      status: res.status,
      statusText: res.statusText,
      detail,
      tokenOrigin: res.tokenOrigin,
    });
  }

  /** No answer from the API: `cannot reach http://host:8081 (GET /hsm/v2/groups): connection refused`. */
  static unreachable(method: string, url: string, err: NetworkError): ApiError {
    const u = new URL(url);
    return new ApiError(`cannot reach ${u.origin} (${method} ${u.pathname}): ${err.message}`, { url });
  }
}

/** The detail of an error body: problem+json `detail` (or `title`), an OAuth `error_description`, else the text. */
export function errorDetail(res: HttpResponse): string {
  const text = res.text().trim();
  if (!text) return "";
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") {
      const d = body.detail ?? body.error_description ?? body.message ?? body.title ?? body.error;
      if (typeof d === "string" && d) return d;
    }
  } catch {
    /* not JSON */
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
