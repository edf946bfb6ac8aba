import { createApp } from "./app";
import { noteWriteElsewhere } from "./boot/snapshot/current";
import { peerEntrypoint } from "./boot/snapshot/peers";
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

/** What an API process serves on its own socket under `npm start` (workers/boot/snapshot/peers.ts). */
export const peer = peerEntrypoint(noteWriteElsewhere);
