/**
 * What iPXE itself would act on in a value BSS places on a script line (`kernel --name kernel
 * <kernel> <params> || goto boot_retry`, `initrd --name initrd <initrd> || goto boot_retry`).
 *
 * iPXE reads a script line by splitting it on whitespace, then looks at whole words: a word that
 * is exactly `||`, `&&` or `;` ends the command and makes the rest of the line another command,
 * and a word starting with `#` makes the rest of the line a comment (our `|| goto boot_retry`
 * included). Only then does it expand `${name}` inside each word into an iPXE setting, and it
 * repeats the expansion until none is left, so iPXE has no way to pass a literal `${…}` on.
 * Everything else is plain text: `;` inside a word, as in `ds=nocloud;s=http://…/`, stays part of
 * the kernel's command line. A line break would start a new command; control characters are
 * refused before this check (model.ts). Pure: no I/O.
 */

export type IpxeSyntax = "||" | "&&" | ";" | "#" | "${" | "-";

/** The iPXE syntax found in a kernel command line, each kind once, in the order above. */
export function ipxeSyntaxInParams(params: string): IpxeSyntax[] {
  const found = new Set<IpxeSyntax>();
  for (const word of params.split(/\s+/)) {
    if (word === "||" || word === "&&" || word === ";") found.add(word);
    else if (word.startsWith("#")) found.add("#");
  }
  if (params.includes("${")) found.add("${");
  return ORDER.filter((s) => found.has(s));
}

/**
 * The iPXE syntax found in a kernel or initrd URL (one word): the command words, a leading `#`,
 * `${`, and a leading `-` (iPXE would read the word as an option of `kernel`/`initrd`, not as the
 * image's URI).
 */
export function ipxeSyntaxInUrl(url: string): IpxeSyntax[] {
  const found = ipxeSyntaxInParams(url);
  if (url.startsWith("-")) found.push("-");
  return found;
}

const ORDER: IpxeSyntax[] = ["||", "&&", ";", "#", "${", "-"];

const MEANING: Record<IpxeSyntax, string> = {
  "||": `a separate "||" ends the iPXE command and runs what follows`,
  "&&": `a separate "&&" ends the iPXE command and runs what follows`,
  ";": `a separate ";" ends the iPXE command and runs what follows (";" inside a word, as in ds=nocloud;s=…, is fine)`,
  "#": `a word starting with "#" makes the rest of the iPXE line a comment`,
  "${": `"\${" makes iPXE expand one of its settings on the node`,
  "-": `a leading "-" makes iPXE read the URL as an option`,
};

/** `params contains "||" and "${": …` — the problem detail naming what was found and why it is refused. */
export function describeIpxeSyntax(field: string, found: IpxeSyntax[]): string {
  const names = found.map((s) => (s === "#" ? `"#" at the start of a word` : s === "-" ? `"-" at the start` : `"${s}"`));
  const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names[0];
  return `${field} contains ${list}, which iPXE would act on: ${found.map((s) => MEANING[s]).join("; ")}`;
}
