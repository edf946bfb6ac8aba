import { createApp } from "./app";
import type { Bindings } from "./env";
import { requestWithUrl } from "./http/request-target";

const app = createApp();

export default {
  fetch: (request, env, ctx) => {
    // The URL the app routes on, from the request target as sent (workers/http/request-target.ts).
    const req = requestWithUrl(request);
    return req instanceof Response ? req : app.fetch(req, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;
