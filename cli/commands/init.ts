import { mkdir, stat } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { NixsealError, REPO_FORMAT } from "../../core/index.js";
import { ensureAdminIdentity } from "../identity/index.js";
import { printInfo, printWarning } from "../output.js";
import { repoFile, saveRepo, secretsDir, withRepoLock } from "../repo/index.js";
import type { CommandContext } from "./context.js";

/** `nixseal init [DIR]`: a new secrets repo and, unless one exists, an admin identity. */
export function registerInit(program: Command, ctx: CommandContext): void {
  program
    .command("init")
    .description("create a secrets repo (nixseal.json, secrets/) and your admin identity")
    .argument("[dir]", "directory of the repo (default: the current directory)")
    .option("-i, --identity <file>", "use this age identity file or SSH private key as your admin key (its .pub next to it)")
    .option("--admin-name <name>", "a label for you in the admins list (default: user@hostname)")
    .addHelpText(
      "after",
      `
Without --identity, init reuses your admin identity from the OS keychain (or the
identity file) if there is one, else creates an age identity and stores it in the
keychain; when no keychain is reachable it writes ~/.config/nixseal/identity.txt (0600).

Examples:
  nixseal init
  nixseal init --identity ~/.ssh/id_ed25519`,
    )
    .action(async (dirArg: string | undefined, opts: { identity?: string; adminName?: string }) => {
      const { io } = ctx;
      const dir = resolve(io.cwd, dirArg ?? ".");
      if (await exists(repoFile(dir))) {
        throw new NixsealError("NIXSEAL_ERR_REPO_EXISTS", `${repoFile(dir)} already exists`, {
          hints: ["this directory is already a nixseal repo; nothing was changed"],
        });
      }
      await mkdir(dir, { recursive: true });
      const admin = await ensureAdminIdentity(io, opts.identity);
      const name = opts.adminName ?? `${safeUser()}@${hostname()}`;
      await withRepoLock(dir, async () => {
        if (await exists(repoFile(dir))) throw new NixsealError("NIXSEAL_ERR_REPO_EXISTS", `${repoFile(dir)} already exists`);
        await mkdir(secretsDir(dir), { recursive: true });
        await saveRepo(dir, { format: REPO_FORMAT, admins: [{ name, recipient: admin.recipient }], hosts: {}, secrets: {} });
      });
      printInfo(io, `created ${repoFile(dir)} and ${secretsDir(dir)}/`);
      if (admin.storedIn === "keychain") printInfo(io, "created an admin identity and stored it in the OS keychain");
      else if (admin.storedIn === "existing keychain entry") printInfo(io, "using your admin identity from the OS keychain");
      else if (admin.keychainProblem) {
        printWarning(io, `no OS keychain reachable (${admin.keychainProblem}); admin identity is in ${admin.storedIn} (mode 0600)`);
        printInfo(io, "hint: keep a copy of that file somewhere safe; without it you cannot decrypt this repo's secrets");
      } else printInfo(io, `using the admin identity in ${admin.storedIn}`);
      printInfo(io, `admin ${name}: ${admin.recipient}`);
      printInfo(io, 'next: nixseal host add NAME --target root@ADDRESS --scan');
    });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "admin";
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
