// `secrets edit`: the cleartext lives only in a private 0700 directory on a
// tmpfs (RAM), is handed to $VISUAL/$EDITOR by path, and the directory is
// removed in every outcome we get to see: normal exit, error, SIGINT, SIGTERM,
// SIGHUP. A SIGKILL cannot be caught: then the directory stays on the tmpfs
// (RAM, gone at reboot) until the next `secrets edit` by the same user removes it.
// Each user's edit dirs live in a directory of their own on that tmpfs
// (nixseal-edit-<uid>, 0700), so a shared /dev/shm never has us sweep, or write
// into, what another user made.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmdirSync, rmSync } from "node:fs";
import { lstat, mkdir, readFile, readdir, rm, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NixsealError } from "../core/index.js";
import { isProcessAlive } from "../core/process.js";
import type { CliIo } from "./io.js";

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const DIR_PREFIX = "nixseal-edit-";

/** Whether a directory is on a RAM-backed file system (tmpfs or ramfs). */
async function isRamBacked(dir: string): Promise<boolean> {
  try {
    const s = await statfs(dir);
    return s.type === TMPFS_MAGIC || s.type === RAMFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * The base directory for cleartext: NIXSEAL_EDIT_DIR if set (must be a tmpfs),
 * else $XDG_RUNTIME_DIR, else /dev/shm, whichever is a tmpfs first.
 *
 * @throws NixsealError NIXSEAL_ERR_NO_TMPFS
 */
async function editBaseDir(io: CliIo): Promise<string> {
  const forced = io.env.NIXSEAL_EDIT_DIR;
  const candidates = forced ? [forced] : [io.env.XDG_RUNTIME_DIR, "/dev/shm"].filter((d): d is string => Boolean(d));
  for (const dir of candidates) if (await isRamBacked(dir)) return dir;
  throw new NixsealError("NIXSEAL_ERR_NO_TMPFS", `no tmpfs to edit on (tried ${candidates.join(", ")}); refusing to put cleartext on a disk`, {
    hints: ["mount one (mount -t tmpfs -o mode=1777 tmpfs /dev/shm) or set NIXSEAL_EDIT_DIR to a tmpfs directory"],
  });
}

/**
 * This user's own directory for edit dirs on the tmpfs at base, made 0700 if absent.
 * One that is a symlink, belongs to someone else or is open to others is refused: it
 * is never used, swept or changed.
 *
 * @throws NixsealError NIXSEAL_ERR_EDIT_DIR
 */
async function userEditDir(base: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const dir = join(base, `${DIR_PREFIX}${uid}`);
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = await lstat(dir);
  const why = st.isSymbolicLink() ? "is a symlink" : !st.isDirectory() ? "is not a directory" : st.uid !== uid ? `belongs to uid ${st.uid}, not to you (uid ${uid})` : (st.mode & 0o077) !== 0 ? "is open to other users" : undefined;
  if (why) {
    throw new NixsealError("NIXSEAL_ERR_EDIT_DIR", `${dir} ${why}; refusing to put cleartext there`, {
      hints: [`if it is not yours, have root remove it; or set NIXSEAL_EDIT_DIR (or XDG_RUNTIME_DIR) to a tmpfs directory only you can write`],
    });
  }
  return dir;
}

/** Removes this user's edit dirs left by nixseal processes that no longer exist (a SIGKILLed edit). */
async function sweepLeftovers(userDir: string): Promise<string[]> {
  const removed: string[] = [];
  const uid = process.getuid?.() ?? 0;
  for (const entry of await readdir(userDir).catch(() => [] as string[])) {
    const m = /^(\d+)-[0-9a-f]+$/.exec(entry);
    if (!m || isProcessAlive(Number(m[1]))) continue;
    const st = await lstat(join(userDir, entry)).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== uid) continue; // only what this user made
    await rm(join(userDir, entry), { recursive: true, force: true });
    removed.push(join(userDir, entry));
  }
  return removed;
}

/** The editor command line: $VISUAL, else $EDITOR, else vi (run through sh, as git does). */
function editorCommand(io: CliIo): string {
  return io.env.VISUAL || io.env.EDITOR || "vi";
}

/**
 * A new private (0700) directory for cleartext in this user's directory on the tmpfs
 * of editBaseDir, after sweeping what this user's SIGKILLed runs left there; cleanup()
 * removes it.
 *
 * @throws NixsealError NIXSEAL_ERR_NO_TMPFS, NIXSEAL_ERR_EDIT_DIR
 */
export async function makePrivateTmpfsDir(io: CliIo): Promise<{ dir: string; cleanup: () => void }> {
  const base = await editBaseDir(io);
  for (let attempt = 0; ; attempt++) {
    const mine = await userEditDir(base);
    await sweepLeftovers(mine);
    const dir = join(mine, `${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      // another edit of ours just removed the (empty) user dir: make it again
      if ((err as NodeJS.ErrnoException).code === "ENOENT" && attempt < 3) continue;
      throw err;
    }
    const cleanup = (): void => {
      rmSync(dir, { recursive: true, force: true });
      try {
        rmdirSync(mine); // only when empty: no other edit of ours is running
      } catch {
        // not empty, or gone
      }
    };
    return { dir, cleanup };
  }
}

/**
 * Lets the operator edit a value. Returns the new value, or null when it is
 * unchanged. An editor that exits non-zero, or an emptied file, changes nothing.
 *
 * @param fileName - the name shown in the editor (the secret name)
 */
export async function editValue(io: CliIo, fileName: string, value: Uint8Array): Promise<Buffer | null> {
  const { dir, cleanup } = await makePrivateTmpfsDir(io);
  let editorRunning = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // Ctrl-C while the editor owns the terminal is the editor's (as git does);
    // any other interruption removes the cleartext and ends the process.
    if (signal === "SIGINT" && editorRunning) return;
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  try {
    const file = join(dir, fileName);
    await writeFile(file, value, { mode: 0o600, flag: "wx" });
    const editor = editorCommand(io);
    editorRunning = true;
    const code = await runEditor(editor, file, io).finally(() => (editorRunning = false));
    if (code !== 0) {
      throw new NixsealError("NIXSEAL_ERR_EDITOR_FAILED", `the editor (${editor}) exited with ${code}; nothing changed`, {
        hints: ["set EDITOR (or VISUAL) to an editor that exits 0 when you save"],
      });
    }
    const edited = await readFile(file);
    if (Buffer.compare(edited, Buffer.from(value)) === 0) {
      edited.fill(0);
      return null;
    }
    if (edited.length === 0) {
      throw new NixsealError("NIXSEAL_ERR_EMPTY_VALUE", "the edited value is empty; nothing changed", {
        hints: ['to delete a secret, run "nixseal secrets rm NAME"'],
      });
    }
    return edited;
  } finally {
    cleanup();
    for (const s of signals) process.off(s, onSignal);
  }
}

function runEditor(editor: string, file: string, io: CliIo): Promise<number> {
  return new Promise((resolve, reject) => {
    // sh -c 'EDITOR "$@"' splits and quotes the editor setting like git does;
    // the file path travels as an argument, the value never does.
    const child = spawn("sh", ["-c", `${editor} "$@"`, editor, file], { stdio: "inherit", env: io.env as NodeJS.ProcessEnv, cwd: io.cwd });
    child.once("error", (err) =>
      reject(new NixsealError("NIXSEAL_ERR_EDITOR_FAILED", `cannot start the editor: ${err.message}`, { cause: err })),
    );
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
