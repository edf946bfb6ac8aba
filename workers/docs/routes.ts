import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { AppEnv } from "../env";
import { originOf } from "../http/request-target";
import { op, resource, router } from "../http/route";
import { json } from "../http/wire";
import { type OpenApiDocument, openApiDocument } from "./openapi";
import { referencePage } from "./page";

/**
 * GET /openapi.json: the document (openapi.ts); GET /docs: the same as a page to read. Both are
 * built once per origin and isolate: the routes cannot change while the worker runs.
 */
export function docsApp(api: OpenAPIHono<AppEnv>) {
  const app = router();
  const documents = new Map<string, { doc: OpenApiDocument; page?: string }>();
  const documentFor = (url: string) => {
    const origin = originOf(url);
    let entry = documents.get(origin);
    if (!entry) {
      if (documents.size >= 16) documents.clear(); // a handful of names per head node at most
      entry = { doc: openApiDocument(api, origin) };
      documents.set(origin, entry);
    }
    return entry;
  };
  const tags = ["Docs"];
  resource(app, "/openapi.json", {
    get: op(
      { summary: "This API as OpenAPI 3.1", tags, responses: { 200: json(z.looseObject({ openapi: z.string() }), "the document") } },
      (c) => c.json(documentFor(c.req.url).doc),
    ),
  });
  resource(app, "/docs", {
    get: op(
      {
        summary: "This API as a page to read",
        tags,
        responses: { 200: { description: "HTML", content: { "text/html": { schema: z.string() } } } },
      },
      (c) => {
        const entry = documentFor(c.req.url);
        entry.page ??= referencePage(entry.doc);
        return c.html(entry.page);
      },
    ),
  });
  return app;
}
