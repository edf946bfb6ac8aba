// A UDP peer run inside a test namespace (`ip netns exec NS node udp-peer.mjs '<json>'`): a DHCP
// relay agent or a fuzzer. Prints one JSON line per reply received, then {"done":true}.
// {bind:{address,port}, to:{address,port}, packets:[hex...], broadcast?, waitMs, expectReplies}
// The spec is the JSON argument itself, or @FILE for a file holding it (large fuzz sets).
import dgram from "node:dgram";
import { readFileSync } from "node:fs";

const arg = process.argv[2];
const spec = JSON.parse(arg.startsWith("@") ? readFileSync(arg.slice(1), "utf8") : arg);
const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
let replies = 0;
const finish = () => {
  console.log(JSON.stringify({ done: true, replies }));
  sock.close();
  process.exit(0);
};
sock.on("message", (msg, rinfo) => {
  replies++;
  console.log(JSON.stringify({ from: rinfo.address, port: rinfo.port, hex: msg.toString("hex") }));
  if (spec.expectReplies && replies >= spec.expectReplies) finish();
});
sock.bind(spec.bind.port, spec.bind.address, async () => {
  if (spec.broadcast) sock.setBroadcast(true);
  for (const hex of spec.packets) {
    await new Promise((r) => sock.send(Buffer.from(hex, "hex"), spec.to.port, spec.to.address, r));
  }
  setTimeout(finish, spec.waitMs ?? 2000);
});
