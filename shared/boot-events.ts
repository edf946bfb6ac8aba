/**
 * Boot events: the wire contract between the on-prem agent (which reports the steps it serves),
 * the API (which records its own and stores all of them) and the readers (`ochami bss history`).
 * Every step a node takes on its way up is one event. The API records `bootscript` and the
 * cloud-init documents itself; the agent reports `dhcp`, `tftp`, `kernel`, `initrd`, `rootfs` and
 * `image` through `POST /boot/v1/endpoint-history`. The field is called `endpoint`, as in
 * upstream BSS's endpoint history.
 */
export const BOOT_STEPS = [
  "dhcp",
  "tftp",
  "bootscript",
  "kernel",
  "initrd",
  "rootfs",
  "image",
  "meta-data",
  "user-data",
  "vendor-data",
  "cloud-init-group",
] as const;

export type BootStep = (typeof BOOT_STEPS)[number];

export function isBootStep(s: string): s is BootStep {
  return (BOOT_STEPS as readonly string[]).includes(s);
}

/** Where the agent posts its events (`{"events": [ReportedBootEvent, ...]}`) and readers read them. */
export const ENDPOINT_HISTORY_PATH = "/boot/v1/endpoint-history";

/** One event as the agent posts it. The API names the node from `name`, else `mac`, else `ip`. */
export interface ReportedBootEvent {
  /** The node's xname, when the reporter knows it. */
  name?: string;
  mac?: string;
  ip?: string;
  endpoint: BootStep;
  epoch_ms: number;
  detail?: string;
}

/** One event as `GET /boot/v1/endpoint-history?history=true` returns it, oldest first. */
export interface RecordedBootEvent {
  id: number;
  /** The node's xname; "" when no node in SMD matched. */
  name: string;
  endpoint: BootStep;
  epoch_ms: number;
  mac: string;
  ip: string;
  detail: string;
}
