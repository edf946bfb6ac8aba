/**
 * Child process of bench/tftp-images.ts: the agent's TFTP and image servers alone, so the bench
 * measures them in their own process (and their own RSS) like tftpd-hpa and nginx.
 * argv: <tftp root> <image root>. Prints one JSON line {tftpPort, imagesPort} when ready.
 */
import { startImageServer } from "../onprem-agent/images";
import type { Logger } from "../onprem-agent/log";
import { startTftpServer } from "../onprem-agent/tftp";

const quiet = () => {};
const log: Logger = {
  debug: quiet,
  info: quiet,
  warn: (obj, msg) => console.error("warn:", msg, JSON.stringify(obj)),
  error: (obj, msg) => console.error("error:", msg, obj),
};

const [tftpRoot, imageRoot] = process.argv.slice(2);
const tftp = await startTftpServer({ address: "127.0.0.1", port: 0, root: tftpRoot }, { log });
const images = await startImageServer({ address: "127.0.0.1", port: 0, root: imageRoot }, { log });
console.log(JSON.stringify({ tftpPort: tftp.port, imagesPort: images.port }));

process.on("SIGTERM", () => {
  void Promise.all([tftp.close(), images.close()]).then(() => process.exit(0));
});
