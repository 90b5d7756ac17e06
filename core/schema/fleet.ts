import { z } from "zod";
import { hostName } from "./names.js";

/**
 * The part of nixseal.json a server needs to authenticate requests, pushed by `nixseal
 * push`: each host's SSH host key (hosts sign their requests with it) and the admins'
 * SSH keys (operators sign pushes with one). Public keys only; age1 admin keys cannot
 * sign and are left out.
 */
export const FLEET_FORMAT = "nixseal-fleet/v1";

const sshKeyLine = z.string().regex(/^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/, { message: '"ssh-ed25519 AAAA…" or "ssh-rsa AAAA…" without a comment' }).max(2000);

export const fleetStateSchema = z.strictObject({
  format: z.literal(FLEET_FORMAT),
  hosts: z.record(hostName, z.strictObject({ hostKey: sshKeyLine })),
  admins: z.array(z.strictObject({ name: z.string().min(1).max(100).regex(/^[\x20-\x7e]+$/), key: sshKeyLine })).max(1000),
});

export type FleetState = z.infer<typeof fleetStateSchema>;
