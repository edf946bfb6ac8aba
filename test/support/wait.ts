/**
 * Waiting for a condition, never for a length of time: `waitFor` polls `probe` until it returns
 * something truthy and returns that, or fails at the deadline naming what it waited for (and, when
 * `what` is a function, what it saw by then). No Node imports: the API tests run it in workerd.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  timeoutMs: number,
  what: string | (() => string),
  opts: { everyMs?: number } = {},
): Promise<Exclude<T, false | 0 | "" | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got) return got as Exclude<T, false | 0 | "" | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}
