/**
 * Where a node's latest boot is, from the boot history: the rules of the dashboard, in one place.
 *
 * A node's facts (what GET /ui/api/boots returns per node, and what folding each new event of the
 * log into them keeps up to date):
 *   step, at, detail  its latest step that moves a boot forward: any step but the booted OS's own
 *                     DHCP (a `dhcp` without `file=`: its first lease and every renewal)
 *   start             its latest firmware DHCP (a `dhcp` answered with a boot file): its boot began
 *   vendorAt, vendorDetail  its latest vendor-data fetch; the detail says how many group files it
 *                     includes (`2 includes`)
 *   groups            the group files fetched successfully since that vendor-data
 *
 * Its stage: where `step` is (firmware DHCP and TFTP are "dhcp"; kernel, initrd, rootfs; every
 * cloud-init fetch is "cloud-init"), or "done" once, in this boot, cloud-init fetched vendor-data
 * and every group file it includes and asked for nothing since; "none" for a node with no history.
 * A node not done is stuck when its latest step is older than the threshold.
 */

/** The stages, in boot order. */
export const STAGES = ["dhcp", "bootscript", "kernel", "initrd", "rootfs", "cloud-init", "done"];

export const STAGE_LABELS = {
  none: "no boot seen",
  dhcp: "DHCP",
  bootscript: "bootscript",
  kernel: "kernel",
  initrd: "initrd",
  rootfs: "rootfs",
  "cloud-init": "cloud-init",
  done: "done",
  stuck: "stuck",
};

const STAGE_OF_STEP = {
  dhcp: "dhcp",
  tftp: "dhcp",
  bootscript: "bootscript",
  kernel: "kernel",
  initrd: "initrd",
  rootfs: "rootfs",
  image: "rootfs",
  "meta-data": "cloud-init",
  "user-data": "cloud-init",
  "vendor-data": "cloud-init",
  "cloud-init-group": "cloud-init",
};

/** The firmware's DHCP is answered with a boot file; the booted OS's is not. */
export function isFirmwareDhcp(detail) {
  return detail.includes("file=");
}

/** A fetch that failed: its detail begins with the HTTP status the node got (`404: …`). */
export function isFailure(detail) {
  return /^\d{3}: /.test(detail);
}

/** The group files a vendor-data includes (`1 include`, `3 includes`), or -1 when it failed. */
export function includesOf(vendorDetail) {
  const m = /^(\d+) includes?$/.exec(vendorDetail);
  return m ? Number(m[1]) : -1;
}

/** A node's facts from one row of GET /ui/api/boots (its `columns`). */
export function factsFromRow(row) {
  const [, step, at, detail, start, vendorAt, vendorDetail, groups] = row;
  return { step, at, detail, start, vendorAt, vendorDetail, groups: groups.length ? new Set(groups) : null };
}

export function emptyFacts() {
  // `groups` stays null until there is one: 100,000 nodes need no 100,000 empty sets.
  return { step: "", at: 0, detail: "", start: 0, vendorAt: 0, vendorDetail: "", groups: null };
}

/**
 * Folds one event of the log (`{endpoint, epoch_ms, detail}`) into a node's facts. Returns true
 * when they changed. Events may arrive a little out of order (the agent reports in batches):
 * each fact keeps the latest time.
 */
export function applyEvent(f, e) {
  const t = e.epoch_ms;
  const step = e.endpoint;
  if (!(step in STAGE_OF_STEP)) return false;
  if (step === "dhcp" && !isFirmwareDhcp(e.detail)) return false;
  if (step === "dhcp") f.start = Math.max(f.start, t);
  if (step === "vendor-data" && t >= f.vendorAt) {
    f.vendorAt = t;
    f.vendorDetail = e.detail;
    f.groups = null;
  }
  if (step === "cloud-init-group" && f.vendorAt && t >= f.vendorAt && !isFailure(e.detail)) {
    f.groups ??= new Set();
    f.groups.add(e.detail);
  }
  if (t >= f.at) {
    f.step = step;
    f.at = t;
    f.detail = e.detail;
  }
  return true;
}

/**
 * The node's stage and whether it is stuck, at `now` (ms, the server's clock) with `stuckMs`.
 * `{stage, stuck, failed}`: `failed` when its latest step was a failed fetch.
 */
export function classify(f, now, stuckMs) {
  if (!f?.at) return { stage: "none", stuck: false, failed: false };
  const stage = STAGE_OF_STEP[f.step] ?? "dhcp";
  const includes = includesOf(f.vendorDetail);
  const done =
    (f.step === "vendor-data" || f.step === "cloud-init-group") &&
    f.vendorAt > 0 &&
    f.vendorAt >= f.start &&
    includes >= 0 &&
    (f.groups?.size ?? 0) >= includes &&
    !isFailure(f.detail);
  if (done) return { stage: "done", stuck: false, failed: false };
  return { stage, stuck: now - f.at > stuckMs, failed: isFailure(f.detail) };
}

/**
 * A node's boot timeline from its events (oldest first), as `ochami bss history` prints it: each
 * boot begins at a firmware DHCP (or at the node's first event), and each step carries the time
 * since that beginning. Returns the boots, newest first: `[{start, steps: [{event, sinceMs}]}]`.
 */
export function bootsOf(events) {
  const boots = [];
  let current;
  for (const e of events) {
    if (!current || (e.endpoint === "dhcp" && isFirmwareDhcp(e.detail))) {
      current = { start: e.epoch_ms, steps: [] };
      boots.push(current);
    }
    current.steps.push({ event: e, sinceMs: e.epoch_ms - current.start });
  }
  return boots.reverse();
}
