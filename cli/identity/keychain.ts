// The admin identity in the OS keychain (Secret Service on Linux, Keychain on
// macOS, Credential Manager on Windows) through @napi-rs/keyring. On Linux the
// entry is pinned to the Secret Service: the kernel keyring (the binding's
// silent fallback) forgets everything at reboot, which would lose the key.
import type { CliIo } from "../io.js";

const KEYCHAIN_SERVICE = "nixseal";
const KEYCHAIN_ACCOUNT = "admin-identity";

/** Where the keychain stands: reachable (with or without an entry) or why not. */
export type KeychainRead = { ok: true; identity: string | null } | { ok: false; reason: string; disabled?: true };

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
  if (disabled(io)) return { ok: false, reason: "NIXSEAL_NO_KEYCHAIN is set", disabled: true };
  try {
    const e = await entry();
    return { ok: true, identity: await e.getPassword() };
  } catch (err) {
    return { ok: false, reason: firstLine(err, io.env) };
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
    return { ok: false, reason: firstLine(err, io.env) };
  }
}

/**
 * Why the keychain could not be used, in one line a person can act on (the binding's own
 * messages are D-Bus internals); never key material.
 */
function keychainProblem(message: string, env: Record<string, string | undefined>): string {
  if (/DBUS_SESSION_BUS_ADDRESS|autolaunch/i.test(message)) {
    return "no D-Bus session to reach it through (DBUS_SESSION_BUS_ADDRESS is unset, as in a plain SSH login)";
  }
  if (/Failed to connect to socket|Connection refused/i.test(message)) {
    return `the D-Bus session in DBUS_SESSION_BUS_ADDRESS${env.DBUS_SESSION_BUS_ADDRESS ? "" : " (or $XDG_RUNTIME_DIR/bus)"} does not answer`;
  }
  if (/org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service/i.test(message)) {
    return "no Secret Service in this D-Bus session (gnome-keyring or KWallet is not running)";
  }
  if (/Did not receive a reply|timeout/i.test(message)) return "the Secret Service in this D-Bus session does not reply (is the keyring unlocked?)";
  if (/locked|prompt|dismiss/i.test(message)) return "the keychain is locked: unlock it in your session";
  return message.split("\n")[0]!;
}

// Binding errors carry nested causes; one line is enough and holds no key material.
function firstLine(err: unknown, env: Record<string, string | undefined>): string {
  return keychainProblem((err instanceof Error ? err.message : String(err)).split("\n")[0]!, env);
}
