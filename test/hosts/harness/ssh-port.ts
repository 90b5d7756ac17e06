// The port test machines' sshd listens on. Machines share the box's network namespace, and
// Linux refuses to bind 127.0.1.N:22 while anything listens on the wildcard address at
// port 22 (a box running its own sshd, as a fresh CI machine with openssh-server does).
// So: 22 when free, else 2222, or NIXSEAL_TESTHOST_SSH_PORT.
import { readFileSync } from "node:fs";

/** True when a TCP socket listens on 0.0.0.0:port or [::]:port on this box. */
export function wildcardListener(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const [file, any] of [["/proc/net/tcp", "00000000"], ["/proc/net/tcp6", "0".repeat(32)]] as const) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] = local "ADDR:PORT" in hex, f[3] = state; 0A = LISTEN
      if (f[1] === `${any}:${hexPort}` && f[3] === "0A") return true;
    }
  }
  return false;
}

/** The sshd port for new machines. */
export function chooseSshPort(): number {
  const fromEnv = process.env.NIXSEAL_TESTHOST_SSH_PORT;
  if (fromEnv) {
    const p = Number(fromEnv);
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new Error(`test hosts: NIXSEAL_TESTHOST_SSH_PORT=${fromEnv} is not a port number`);
    }
    return p;
  }
  for (const p of [22, 2222]) if (!wildcardListener(p)) return p;
  throw new Error(
    "test hosts: something listens on the wildcard address at ports 22 and 2222, so test " +
      "machines cannot bind 127.0.1.N there; set NIXSEAL_TESTHOST_SSH_PORT to a free port",
  );
}
