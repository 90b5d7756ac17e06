// The fleet state a server needs, taken from nixseal.json: each host's SSH host key
// (canonical, no comment) and the admins whose keys are SSH keys (age1 keys cannot sign).
import { canonicalSshLine, parseSshPublicKey } from "../../core/keys/ssh-public.js";
import { FLEET_FORMAT, type FleetState } from "../../core/schema/fleet.js";
import type { Repo } from "../../core/index.js";

/** The repo's fleet state. */
export function fleetStateOf(repo: Repo): FleetState {
  const hosts: FleetState["hosts"] = {};
  for (const [name, h] of Object.entries(repo.hosts)) hosts[name] = { hostKey: canonicalSshLine(parseSshPublicKey(h.hostKey, `nixseal.json: host ${name}`)) };
  const admins = repo.admins.filter((a) => /^ssh-(ed25519|rsa) /.test(a.recipient.trim())).map((a) => ({ name: a.name, key: canonicalSshLine(parseSshPublicKey(a.recipient, `nixseal.json: admin ${a.name}`)) }));
  return { format: FLEET_FORMAT, hosts, admins };
}
