import { describe, expect, it } from "vitest";
import { Query } from "../../workers/http/query";
import { originOf, requestWithUrl } from "../../workers/http/request-target";
import { dispatch } from "./client";

/**
 * The request target as `npm start`'s workerd socket hands it over (proxy style: verbatim), turned
 * into the URL the app routes on. test/head-node/http-hardening.test.ts sends the same over TCP.
 */
function asSent(target: string, headers: Record<string, string> = {}, method = "GET"): Request {
  const req = new Request("http://placeholder.invalid/", { method, headers });
  Object.defineProperty(req, "url", { value: target, configurable: true }); // as workerd gives it: no own property yet
  return req;
}

async function problem(r: Request | Response) {
  expect(r).toBeInstanceOf(Response);
  const res = r as Response;
  return { status: res.status, type: res.headers.get("content-type"), detail: ((await res.json()) as { detail: string }).detail };
}

describe("request targets (RFC 9112 §3.2)", () => {
  it("origin form: Host + path, dot segments resolved, fragment dropped", () => {
    expect((requestWithUrl(asSent("/hsm/v2/service/ready?x=1", { host: "10.0.0.1:8081" })) as Request).url).toBe(
      "http://10.0.0.1:8081/hsm/v2/service/ready?x=1",
    );
    expect((requestWithUrl(asSent("/hsm/v2/groups/../service/ready#f", { host: "h" })) as Request).url).toBe(
      "http://h/hsm/v2/service/ready",
    );
    expect((requestWithUrl(asSent("/x", { host: "[fd00::1]:8081" })) as Request).url).toBe("http://[fd00::1]:8081/x");
  });

  it("absolute form: the target's authority wins over Host; a canonical URL passes untouched", () => {
    const abs = asSent("HTTP://Head-Node:8081/boot/v1/bootscript?mac=1", { host: "elsewhere" });
    expect((requestWithUrl(abs) as Request).url).toBe("http://head-node:8081/boot/v1/bootscript?mac=1");
    const canonical = new Request("http://ochami.test/hsm/v2/service/ready");
    expect(requestWithUrl(canonical)).toBe(canonical);
  });

  it("keeps the request itself: method, headers, body and peer address", async () => {
    const req = new Request("http://placeholder.invalid/", { method: "POST", headers: { host: "h", "x-a": "1" }, body: "payload" });
    Object.defineProperty(req, "url", { value: "/p", configurable: true });
    Object.defineProperty(req, "cf", { value: { clientIp: "10.0.0.9:1234" } });
    const out = requestWithUrl(req) as Request;
    expect(out).toBe(req);
    expect([out.url, out.method, out.headers.get("x-a"), (out as { cf?: { clientIp: string } }).cf?.clientIp]).toEqual([
      "http://h/p",
      "POST",
      "1",
      "10.0.0.9:1234",
    ]);
    expect(await out.text()).toBe("payload");
  });

  it("answers OPTIONS * with the API's methods; refuses what is no request target with 400 problems", async () => {
    const options = requestWithUrl(asSent("*", { host: "h" }, "OPTIONS")) as Response;
    expect([options.status, options.headers.get("allow")]).toEqual([204, "GET, HEAD, POST, PUT, PATCH, DELETE"]);
    const cases: [Request, string][] = [
      [asSent("*", { host: "h" }), "the request target '*' is for OPTIONS only (RFC 9112 §3.2.4)"],
      [asSent("/x"), "the request has no Host header (RFC 9112 §3.2)"],
      [asSent("/x", { host: "a b" }), "the Host header 'a b' is not a host and port"],
      [asSent("/x", { host: "user@h" }), "the Host header 'user@h' is not a host and port"],
      [asSent("/x", { host: "h/evil" }), "the Host header 'h/evil' is not a host and port"],
      [asSent("/x", { host: "h:99999" }), "the request target '/x' with Host 'h:99999' is not a valid URL"],
      [asSent("ftp://h/x", { host: "h" }), "the request target 'ftp://h/x' is neither a path nor an http(s) URL"],
      [asSent("h:8081", { host: "h" }), "the request target 'h:8081' is neither a path nor an http(s) URL"],
      [asSent("http://user:pw@h/x", { host: "h" }), "the request target 'http://user:pw@h/x' is not a valid URL"],
      [asSent("http://h:99999/x", { host: "h" }), "the request target 'http://h:99999/x' is not a valid URL"],
    ];
    for (const [req, detail] of cases)
      expect(await problem(requestWithUrl(req)), req.url).toEqual({ status: 400, type: "application/problem+json", detail });
  });

  it("the worker routes an origin-form request as it would the absolute URL, through the auth gate", async () => {
    const ready = await dispatch(asSent("/hsm/v2/service/ready", { host: "10.0.0.1:8081" }));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ code: 0, message: "HSM is healthy" });
    const missing = await dispatch(asSent("/hsm/v2/nothing/../nothing-here", { host: "h" }));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { detail: string }).detail).toBe("no route for GET /hsm/v2/nothing-here");
    expect((await dispatch(asSent("/x"))).status).toBe(400);
  });
});

describe("reading a request's URL without parsing it again", () => {
  const urls = [
    "http://10.0.0.1:8081/boot/v1/bootscript?mac=52:54:00:00:00:01",
    "https://head-node/cloud-init/meta-data",
    "http://[fd00::1]:8081/x?a=/b#c",
    "http://h/",
    "HTTP://Head-Node:80/a?b", // not as WHATWG serializes it: parsed the slow way
    "http://h:80/a", // a default port WHATWG would drop: likewise
    "https://h:0443/a",
    "http://h:08081/a",
    "http://h?q=/p", // no path: parsed the slow way
  ];

  it("originOf is URL's origin", () => {
    for (const url of urls) expect(originOf(url), url).toBe(new URL(url).origin);
  });

  it("an origin-form target becomes the URL WHATWG serializes, whether or not it is parsed", () => {
    /** What parsing `http://` + Host + target gives: its href without the fragment, or a refusal. */
    const viaUrl = (host: string, target: string) => {
      try {
        const u = new URL(`http://${host}${target}`);
        if (u.hostname === "" || u.username !== "" || u.password !== "") return 400;
        u.hash = "";
        return u.href;
      } catch {
        return 400;
      }
    };
    const served = (host: string, target: string) => {
      const r = requestWithUrl(asSent(target, { host }));
      return r instanceof Response ? r.status : r.url;
    };
    const hosts = [
      "10.0.0.1:8081",
      "head-node",
      "head-node:8081",
      "a.b-c.d:65535",
      "h:65536",
      "h:99999",
      "h:80",
      "h:080",
      "h:",
      "HEAD-NODE",
      "head-node.",
      "127.1",
      "1.2.3.04",
      "0x7f.0.0.1",
      "x.3com",
      "xn--nxasmq6b",
      "xn--a",
      "[fd00::1]:8081",
      "h:0",
    ];
    const targets = [
      "/",
      "/boot/v1/bootscript?mac=52:54:00:00:00:01",
      "/a//b",
      "/a/./b",
      "/a/../b",
      "/.",
      "/..",
      "/a/.%2e/b",
      "/%2E",
      "/a?b=/../c",
      "/a#frag",
      "/a?b#c",
      "/a b",
      "/a%20b",
      "/a%zz",
      "/é",
      "/a?é",
      "/a'b",
      "/a?b'c",
      "/a^b",
      "/a|b",
      "/a{b}",
      "/a`b",
      "/a\\b",
      "/a?b\\c",
      "/a[b]",
      "/~user/!$&()*+,;=:@",
      "/a??b",
      "/a?%2e%2E",
    ];
    // And random targets over the characters that matter to a URL parser.
    const alphabet = [..."aZ0./%2eE?# '\"\\^|~:@é[{!=", ".."];
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 3000; i++)
      targets.push(
        `/${Array.from({ length: 1 + Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]).join("")}`,
      );
    for (const host of hosts) for (const target of targets) expect(served(host, target), `${host} ${target}`).toBe(viaUrl(host, target));
  });

  it("Query reads the search part as URL does: after '?', before '#', repeated keys kept", () => {
    const q = new Query("http://h/p?MAC=a&mac=b&x=%2F&y#mac=c");
    expect(q.all("mac")).toEqual(["a", "b"]);
    expect(q.all("x")).toEqual(["/"]);
    expect(q.all("y")).toEqual([""]);
    expect(new Query("http://h/p").all("mac")).toEqual([]);
  });

  it("Query reads any query as URL's searchParams does, with or without anything to decode", () => {
    const pieces = [
      "mac",
      "MAC",
      "Mac",
      "a",
      "=",
      "&",
      "&&",
      "==",
      "%2F",
      "%41",
      "%zz",
      "%",
      "+",
      "x+y",
      "52:54:00:be:ef:0a",
      "é",
      "/",
      "?",
      ";",
      "",
    ];
    const names = ["mac", "a", "x", "", "a=b", "/"];
    for (let i = 0; i < 5000; i++) {
      const query = Array.from({ length: 1 + Math.floor(Math.random() * 8) }, () => pieces[Math.floor(Math.random() * pieces.length)]).join(
        "",
      );
      const q = new Query(`http://h/p?${query}`);
      const expected = new URL(`http://h/p?${query}`).searchParams;
      for (const name of names) {
        const want = [...expected].filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
        expect(q.all(name), `${JSON.stringify(query)} ${name}`).toEqual(want);
      }
    }
  });
});
