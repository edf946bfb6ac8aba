import { isIP } from "node:net";
import { z } from "zod";

/**
 * The second stage OpenCHAMI's iPXE binaries fetch over TFTP (their embedded script asks for
 * `config.ipxe`): follow the boot file DHCP named.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: `${filename}` is iPXE's variable, not JavaScript's.
export const CONFIG_IPXE = "#!ipxe\necho Booting from ${filename}\nchain ${filename}\n";
/** Sent to nodes the inventory does not know yet (coresmd's bootloop `default` script). */
export const REBOOT_IPXE = "#!ipxe\nreboot\n";

/** The `tftp` section of the agent's config. */
export const tftpConfigSchema = z
  .object({
    /** Off unless set: port 69 needs root (or CAP_NET_BIND_SERVICE). `npm start` turns it on with DHCP. */
    enabled: z.boolean().default(false),
    /** Listen address. On a multi-homed head node name the boot network's address: replies leave from it. */
    address: z
      .string()
      .refine((a) => isIP(a) !== 0, "must be an IP address")
      .default("0.0.0.0"),
    port: z.number().int().min(0).max(65535).default(69),
    /** Served read-only. Debian's `ipxe` package puts undionly.kpxe, ipxe.efi, snponly.efi here. */
    root: z.string().min(1).default("/usr/lib/ipxe"),
    /**
     * Symlinks in `root` may lead only inside it, or to these files/directories. Debian links
     * /usr/lib/ipxe/ipxe.efi and ipxe.lkrn to /boot.
     */
    allowSymlinksTo: z.array(z.string().min(1)).default(["/boot/ipxe.efi", "/boot/ipxe.lkrn"]),
    /**
     * Files served from memory instead of `root` (name → content), checked first. The defaults are
     * the chain script the OpenCHAMI iPXE binaries fetch and coresmd's reboot script for unknown
     * nodes; the agent can add per-request content in code (see `startTftpServer`).
     */
    files: z
      .record(z.string().min(1), z.string())
      .default({ "config.ipxe": CONFIG_IPXE, "reboot.ipxe": REBOOT_IPXE, default: REBOOT_IPXE }),
    /** Largest blksize granted (RFC 2348 allows up to 65464). 1468 fills a 1500-byte Ethernet frame. */
    maxBlockSize: z.number().int().min(8).max(65464).default(1468),
    /** Largest windowsize granted (RFC 7440); 1 disables windowing. */
    maxWindowSize: z.number().int().min(1).max(1024).default(16),
    /** Retransmission timeout unless the client asks for one (RFC 2349 `timeout`). */
    timeoutMs: z.number().int().min(10).max(255_000).default(1000),
    /** A client's `timeout` option above this is not accepted (the server's own timeout applies). */
    maxRequestedTimeoutSeconds: z.number().int().min(1).max(255).default(10),
    /** Retransmissions of one window before the transfer is given up. */
    retries: z.number().int().min(0).max(100).default(5),
    maxTransfers: z.number().int().min(1).max(100_000).default(1000),
    maxTransfersPerClient: z.number().int().min(1).max(100_000).default(8),
    /**
     * Files up to this size are kept in memory (up to cacheTotalBytes in all) and shared by all
     * transfers; larger ones are read from disk per transfer.
     */
    cacheFileMaxBytes: z
      .number()
      .int()
      .min(0)
      .default(8 * 1024 * 1024),
    cacheTotalBytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    /** netascii transfers are converted in memory; larger files must be fetched in octet mode. */
    maxNetasciiBytes: z
      .number()
      .int()
      .min(0)
      .default(16 * 1024 * 1024),
  })
  .strict();

export type TftpConfig = z.infer<typeof tftpConfigSchema>;
