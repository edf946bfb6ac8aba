/**
 * The runner's private runtime directory: the database process's Unix socket, each API process's
 * own socket (workerd-config.ts says what it serves) and a record of who owns them. A socket path must stay under ~100 bytes, so it lives in a short temp directory (mode
 * 0700, so other users cannot connect) rather than under a state directory of any length.
 *
 * A runner killed with SIGKILL cannot remove it, and its workerd processes may outlive it (when
 * nothing else stopped them), holding the API's port and the database's files. So the directory
 * records its owner and the workerd processes it started, each by pid and kernel start time (a pid
 * alone may have been reused since), and every start sweeps the directories whose owner is gone:
 * their workerd processes are killed and the directory removed. A directory whose owner is alive
 * (another head-node stack on this machine) is never touched.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const PREFIX = "ochami-d1-";
const OWNER_FILE = "owner.json";
export const SOCKET_NAME = "d1.sock";
/**
 * A directory without an owner record is judged by its socket only once it is this old: a runner
 * that does not record owners is between creating its directory and listening for a moment.
 */
const LEGACY_MIN_AGE_MS = 60_000;
/** sun_path is 108 bytes on Linux, with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** A process as the kernel knows it: its pid and its start time in clock ticks since boot. */
export interface ProcessId {
  pid: number;
  started: number;
}

interface OwnerRecord {
  owner: ProcessId;
  workerd: Record<string, ProcessId>;
}

/** The start time of `pid` (field 22 of /proc/<pid>/stat), or undefined when there is no such process. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const started = Number(fields[19]);
  return Number.isFinite(started) ? started : undefined;
}

export const processIdOf = (pid: number): ProcessId | undefined => {
  const started = processStartTime(pid);
  return started === undefined ? undefined : { pid, started };
};

const alive = (p: ProcessId) => processStartTime(p.pid) === p.started;

export class RuntimeDir {
  readonly dir: string;
  readonly socket: string;
  private readonly record: OwnerRecord;

  constructor(parent = tmpdir()) {
    this.dir = mkdtempSync(path.join(parent, PREFIX));
    this.socket = path.join(this.dir, SOCKET_NAME);
    // The longest name in it: an API process's socket, with room for a three-digit process number.
    if (Buffer.byteLength(this.peerSocket(998)) > MAX_SOCKET_PATH) {
      rmSync(this.dir, { recursive: true, force: true });
      throw new Error(`the database socket path ${this.socket} is longer than ${MAX_SOCKET_PATH} bytes: set TMPDIR to a shorter directory`);
    }
    this.record = { owner: processIdOf(process.pid)!, workerd: {} };
    this.save();
  }

  /** Notes the workerd process now serving as `role` (after each start and restart). */
  noteWorkerd(role: string, pid: number | undefined) {
    const id = pid === undefined ? undefined : processIdOf(pid);
    if (id) this.record.workerd[role] = id;
    else delete this.record.workerd[role];
    this.save();
  }

  /** API process `index`'s own socket (0-based), in this directory. */
  peerSocket(index: number): string {
    return path.join(this.dir, `api-${index + 1}.sock`);
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Written whole and renamed into place: a reader (the next start's sweep) never sees half a record. */
  private save() {
    const temp = path.join(this.dir, `${OWNER_FILE}.new`);
    writeFileSync(temp, `${JSON.stringify(this.record)}\n`, { mode: 0o600 });
    renameSync(temp, path.join(this.dir, OWNER_FILE));
  }
}

export interface SweepResult {
  removed: string[];
  killed: number[];
}

/**
 * Removes the runtime directories left by runners that are gone (killed, crashed), and kills the
 * workerd processes they recorded that still run. Only directories of this user are looked at.
 * A directory from before owners were recorded counts as left over when nothing listens on its
 * socket any more (and it is over a minute old).
 */
export async function sweepRuntimeDirs(parent = tmpdir()): Promise<SweepResult> {
  const result: SweepResult = { removed: [], killed: [] };
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(PREFIX));
  } catch {
    return result;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const dir = path.join(parent, name);
    let made: number;
    try {
      const st = statSync(dir);
      if (st.uid !== uid) continue;
      made = st.mtimeMs;
    } catch {
      continue;
    }
    let record: OwnerRecord | undefined;
    try {
      record = JSON.parse(readFileSync(path.join(dir, OWNER_FILE), "utf8")) as OwnerRecord;
    } catch {
      record = undefined;
    }
    if (record?.owner) {
      if (alive(record.owner)) continue;
      for (const p of Object.values(record.workerd ?? {}))
        if (alive(p)) {
          try {
            process.kill(p.pid, "SIGKILL");
            result.killed.push(p.pid);
          } catch {
            // gone meanwhile
          }
        }
    } else if (Date.now() - made < LEGACY_MIN_AGE_MS || !(await refused(path.join(dir, SOCKET_NAME)))) continue;
    rmSync(dir, { recursive: true, force: true });
    result.removed.push(dir);
  }
  return result;
}

/** True when `socket` exists and nothing accepts connections on it. */
function refused(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}
