/** SMD's 2xx message body: `{"code":0,"message":"deleted 1 entry"}` (code is 0, not the status). */
export function message(text: string, status = 200): Response {
  return Response.json({ code: 0, message: text }, { status });
}

export function deletedCount(n: number): Response {
  return message(n === 1 ? "deleted 1 entry" : `deleted ${n} entries`);
}

export function noContent(): Response {
  return new Response(null, { status: 204 });
}

/** 201 with the created resources' URIs: `[{"URI":…}]` and a Location header (204 if none). */
export function createdList(uris: string[], collection: string): Response {
  if (uris.length === 0) return noContent();
  return Response.json(
    uris.map((URI) => ({ URI })),
    { status: 201, headers: { location: uris.length === 1 ? uris[0] : collection } },
  );
}

export function createdOne(uri: string): Response {
  return Response.json({ URI: uri }, { status: 201, headers: { location: uri } });
}
