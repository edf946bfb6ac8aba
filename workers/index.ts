import { createApp } from "./app";
import { forgetAllClients } from "./auth/client-status";
import { noteWriteElsewhere } from "./boot/snapshot/current";
import { peerEntrypoint } from "./boot/snapshot/peers";
import { ConfigError, parseConfig } from "./config";
import { database } from "./db";
import type { Bindings } from "./env";
import { drainBootEvents } from "./history/recorder";
import { requestWithUrl } from "./http/request-target";

const app = createApp();
/** Requests of the API in flight in this isolate (a stopping process drains them: peers.ts). */
let inFlight = 0;

export default {
  fetch: async (request, env, ctx) => {
    // The URL the app routes on, from the request target as sent (workers/http/request-target.ts).
    const req = requestWithUrl(request);
    if (req instanceof Response) return req;
    inFlight++;
    try {
      return await app.fetch(req, env, ctx);
    } finally {
      inFlight--;
    }
  },
} satisfies ExportedHandler<Bindings>;

/** What an API process serves on its own socket under `npm start` (workers/boot/snapshot/peers.ts). */
export const peer = peerEntrypoint({
  noteWrite: () => {
    noteWriteElsewhere();
    // The write may have revoked a client: its tokens must stop working here at once too.
    forgetAllClients();
  },
  drain: async (env) => {
    const { config } = parseConfig(env as Record<string, unknown>);
    if (config instanceof ConfigError) return;
    await drainBootEvents({ db: database((env as Bindings).DB), config }, () => inFlight > 0);
  },
});
