import type { RecordedBootEvent } from "../../shared/boot-events";

/**
 * The boot timeline of `ochami bss history --follow`: one line per step, node by node, with the
 * time since the node's boot began. The seed tailed the logs of coresmd, BSS and cloud-init in
 * three windows; this is one stream per cluster: dhcp → bootscript → kernel → initrd → meta-data …
 *
 *   16:14:26.675  x1000c0s0b0n0      kernel             +15.1s  /compute/vmlinuz
 */

/** The node an event is about: its xname, else its MAC, else its address. */
function subjectOf(e: RecordedBootEvent): string {
  return e.name || e.mac || e.ip || "?";
}

function clock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * Turns events into lines. Keeps, per node, when its current boot began, so each step shows how
 * far into the boot it came. A boot begins with the firmware's DHCP, the one answered with a boot
 * file (`file=` in the detail); the booted OS's own DHCP later gets none and is a step within it.
 */
export class BootLineFormatter {
  private bootStart = new Map<string, number>();

  line(e: RecordedBootEvent): string {
    const who = subjectOf(e);
    if (e.endpoint === "dhcp" && (e.detail.includes("file=") || !this.bootStart.has(who))) this.bootStart.set(who, e.epoch_ms);
    const start = this.bootStart.get(who);
    const since = start === undefined ? "" : `+${((e.epoch_ms - start) / 1000).toFixed(1)}s`;
    return `${clock(e.epoch_ms)}  ${who.padEnd(17)}  ${e.endpoint.padEnd(16)}  ${since.padStart(7)}  ${e.detail}`.trimEnd();
  }
}
