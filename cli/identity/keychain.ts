// The admin identity in the OS keychain (Secret Service on Linux, Keychain on
// macOS, Credential Manager on Windows) through @napi-rs/keyring. On Linux the
// entry is pinned to the Secret Service: the kernel keyring (the binding's
// silent fallback) forgets everything at reboot, which would lose the key.
import type { CliIo } from "../io.js";

export const KEYCHAIN_SERVICE = "nixseal";
export const KEYCHAIN_ACCOUNT = "admin-identity";

/** Where the keychain stands: reachable (with or without an entry) or why not. */
export type KeychainRead = { ok: true; identity: string | null } | { ok: false; reason: string };

function disabled(io: CliIo): boolean {
  const v = io.env.NIXSEAL_NO_KEYCHAIN;
  return v !== undefined && v !== "" && v !== "0";
}

async function entry(): Promise<import("@napi-rs/keyring").AsyncEntry> {
  const { AsyncEntry } = await import("@napi-rs/keyring");
  return new AsyncEntry(KEYCHAIN_SERVICE, KEYCHAIN_ACCOUNT, { linux: { store: "secret-service" } });
}

/** Reads the stored identity; never throws (an unreachable keychain is a normal case). */
export async function keychainRead(io: CliIo): Promise<KeychainRead> {
  if (disabled(io)) return { ok: false, reason: "NIXSEAL_NO_KEYCHAIN is set" };
  try {
    const e = await entry();
    return { ok: true, identity: await e.getPassword() };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

/** Stores the identity; returns why not when the keychain cannot be used. */
export async function keychainWrite(io: CliIo, identity: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (disabled(io)) return { ok: false, reason: "NIXSEAL_NO_KEYCHAIN is set" };
  try {
    const e = await entry();
    await e.setPassword(identity);
    // Read back: some stores accept a write they cannot serve later.
    if ((await e.getPassword()) !== identity) return { ok: false, reason: "the keychain did not return what was stored" };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

// Binding errors carry nested causes; one line is enough and holds no key material.
function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}
