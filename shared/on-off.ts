/**
 * The one on/off grammar of the project (worker variables, `npm start`'s agent overrides):
 * `on`/`off`, `true`/`false`, `yes`/`no`, `1`/`0`, in any case, spaces around ignored.
 */
const VALUES: Record<string, boolean> = { on: true, true: true, yes: true, "1": true, off: false, false: false, no: false, "0": false };

/** What an on/off value looks like, for error messages. */
export const ON_OFF_HINT = "on or off (also true/false, yes/no, 1/0)";

/** true, false, or undefined when `text` is neither. */
export function parseOnOff(text: string): boolean | undefined {
  return VALUES[text.trim().toLowerCase()];
}
