/**
 * RFC 7807 problem details: the one error shape every API in this project answers with.
 * Field order and the `about:blank` type follow OpenCHAMI SMD (base.SendProblemDetailsGeneric),
 * whose clients and tests compare `type`, `title`, `detail` and `status`.
 */
export const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

export interface ProblemBody {
  type: string;
  title: string;
  detail?: string;
  instance?: string;
  status: number;
  [extension: string]: unknown;
}

export function problemBody(status: number, detail?: string, extensions: Record<string, unknown> = {}): ProblemBody {
  const body: ProblemBody = { type: "about:blank", title: STATUS_TITLES[status] ?? "Error" } as ProblemBody;
  if (detail) body.detail = detail;
  Object.assign(body, extensions);
  body.status = status;
  return body;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemResponse(
  status: number,
  detail?: string,
  init: { headers?: Record<string, string>; extensions?: Record<string, unknown> } = {},
): Response {
  return new Response(JSON.stringify(problemBody(status, detail, init.extensions)), {
    status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...init.headers },
  });
}

/** Throw anywhere in a handler; the app's error handler turns it into a problem response. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail?: string,
    readonly headers: Record<string, string> = {},
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? STATUS_TITLES[status] ?? `HTTP ${status}`);
    this.name = "HttpProblem";
  }

  toResponse(): Response {
    return problemResponse(this.status, this.detail, { headers: this.headers, extensions: this.extensions });
  }
}

export const badRequest = (detail: string) => new HttpProblem(400, detail);
export const notFound = (detail: string) => new HttpProblem(404, detail);
export const conflict = (detail: string) => new HttpProblem(409, detail);
