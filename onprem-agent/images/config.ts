import { isIP } from "node:net";
import { z } from "zod";

const boot = z.enum(["kernel", "initrd", "rootfs"]);

/**
 * How a served file is named in boot events: the first rule with a glob (`*`, `?`) matching the
 * file's name, case-insensitively, gives the endpoint; anything else is "image". The defaults
 * follow the seed tutorial's layout (vmlinuz-KVER, initramfs-KVER.img, rootfs-KVER squashfs).
 */
export const DEFAULT_CLASSIFY = [
  { endpoint: "kernel", match: ["vmlinuz*", "vmlinux*", "bzImage*", "kernel", "kernel-*", "*.kernel"] },
  { endpoint: "initrd", match: ["initramfs*", "initrd*"] },
  { endpoint: "rootfs", match: ["rootfs*", "*.squashfs", "*.sqfs", "squashfs*"] },
] as const;

/** The `images` section of the agent's config. */
export const imagesConfigSchema = z
  .object({
    /** Off unless set in the agent's YAML; `npm start` turns it on (see README). */
    enabled: z.boolean().default(false),
    address: z
      .string()
      .refine((a) => isIP(a) !== 0, "must be an IP address")
      .default("0.0.0.0"),
    port: z.number().int().min(0).max(65535).default(8080),
    /** The seed's image directory: /data/domain-images/openchami/<image>/{vmlinuz,initramfs,rootfs}-KVER. */
    root: z.string().min(1).default("/data/domain-images"),
    /** Symlinks may lead only inside `root`, or to these files/directories. */
    allowSymlinksTo: z.array(z.string().min(1)).default([]),
    /** HTML listing of directories without an index.html (nginx `autoindex`). */
    listing: z.boolean().default(false),
    classify: z
      .array(z.object({ endpoint: boot, match: z.array(z.string().min(1)).min(1) }))
      .default(DEFAULT_CLASSIFY.map((r) => ({ endpoint: r.endpoint, match: [...r.match] }))),
    /** Seconds for `Cache-Control: public, max-age=N`; unset sends no Cache-Control (as nginx). */
    maxAgeSeconds: z.number().int().min(0).optional(),
  })
  .strict();

export type ImagesConfig = z.infer<typeof imagesConfigSchema>;
