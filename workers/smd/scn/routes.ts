import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { message, noContent } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { empty, json, jsonBody, problems } from "../../http/wire";
import { IdParam, PatchBody, patched, patchOf, SubscriptionBody, SubscriptionWire, subscriptionJson, subscriptionOf } from "./model";
import * as store from "./store";

/**
 * /Subscriptions/SCN: who SMD notifies of component changes (delivery: ./notify.ts). Upstream's
 * statuses and wording; a body that does not decode is a 400 (upstream: 500).
 */

const tags = ["SMD notifications"];
const NOT_FOUND = "Subscription not found";
const done = json(z.object({ code: z.int(), message: z.string() }), "done");

export function registerScnRoutes(app: Router) {
  resource(app, "/Subscriptions/SCN", {
    get: op(
      {
        summary: "Every SCN subscription",
        tags,
        responses: { 200: json(z.object({ SubscriptionList: z.array(SubscriptionWire) }), "the subscriptions, by ID") },
      },
      async (c) =>
        c.json({ SubscriptionList: (await store.listSubscriptions(c.var.db)).map((s) => subscriptionJson(s.id, s.subscription)) }),
    ),
    post: op(
      {
        summary: "Subscribe to component changes",
        description:
          "SMD POSTs `{Components, State|Role|SubRole|SoftwareStatus|Enabled…}` to `Url` when components change in a way the " +
          "subscription lists. One subscription per Subscriber and Url (another is a 400, as upstream).",
        tags,
        request: { body: jsonBody(SubscriptionBody) },
        responses: { 200: json(SubscriptionWire, "the new subscription"), ...problems(400) },
      },
      async (c) => {
        const sub = subscriptionOf(c.req.valid("json"));
        const id = await store.insertSubscription(c.var.db, sub);
        if (id === undefined) throw new HttpProblem(400, "Subscribe failed");
        return c.json(subscriptionJson(id, sub));
      },
    ),
    delete: op({ summary: "Delete every SCN subscription", tags, responses: { 200: done } }, async (c) =>
      message(`${await store.deleteAllSubscriptions(c.var.db)} Subscriptions deleted`),
    ),
  });

  resource(app, "/Subscriptions/SCN/{id}", {
    get: op(
      {
        summary: "An SCN subscription",
        tags,
        request: { params: IdParam },
        responses: { 200: json(SubscriptionWire, "the subscription"), ...problems(400, 404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const sub = await store.getSubscription(c.var.db, id);
        if (!sub) throw new HttpProblem(404, NOT_FOUND);
        return c.json(subscriptionJson(id, sub));
      },
    ),
    put: op(
      {
        summary: "Replace an SCN subscription",
        tags,
        request: { params: IdParam, body: jsonBody(SubscriptionBody) },
        responses: { 204: empty("replaced"), ...problems(400, 404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const result = await store.replaceSubscription(c.var.db, id, subscriptionOf(c.req.valid("json")));
        if (result === "conflict") throw new HttpProblem(400, "Subscription update failed");
        if (result === "missing") throw new HttpProblem(404, NOT_FOUND);
        return noContent();
      },
    ),
    patch: op(
      {
        summary: "Add, remove or replace triggers of an SCN subscription",
        tags,
        request: { params: IdParam, body: jsonBody(PatchBody) },
        responses: { 204: empty("patched"), ...problems(400, 404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const { op: patchOp, triggers } = patchOf(c.req.valid("json"));
        const { db } = c.var;
        const sub = await store.getSubscription(db, id);
        if (!sub || (await store.replaceSubscription(db, id, patched(sub, patchOp, triggers))) === "missing")
          throw new HttpProblem(404, NOT_FOUND);
        return noContent();
      },
    ),
    delete: op(
      {
        summary: "Delete an SCN subscription",
        tags,
        request: { params: IdParam },
        responses: { 200: done, ...problems(400, 404) },
      },
      async (c) => {
        if (!(await store.deleteSubscription(c.var.db, c.req.valid("param").id))) throw new HttpProblem(404, NOT_FOUND);
        return message("Subscription deleted");
      },
    ),
  });
}
