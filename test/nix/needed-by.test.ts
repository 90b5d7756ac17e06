// nix/needed-by.nix: what neededBy adds to the consuming units, evaluated with
// plain nix-instantiate (module.nix assigns these attrsets to systemd.*).
import { describe, expect, it } from "vitest";
import { haveNix, nixEval, nixEvalError } from "./nix.js";

type Wiring = { requires: string[]; wants: string[]; after: string[] };
type Out = Record<"services" | "sockets" | "targets" | "timers" | "paths", Record<string, Wiring>>;

const secrets = `{
  caddy-tls = { neededBy = [ "caddy.service" ]; owner = "caddy"; };
  caddy-dns = { neededBy = [ "caddy.service" "acme-renew.timer" ]; };
  app-env = { neededBy = [ "podman-app.service" "app.socket" ]; };
  unused = { };
}`;

describe.skipIf(!haveNix())("nix/needed-by.nix", () => {
  it("orders each consumer after the secrets target and after each of its own key units", () => {
    const out = nixEval(`import ./nix/needed-by.nix { secrets = ${secrets}; nixopsKeys = true; }`) as Out;
    expect(Object.keys(out.services).sort()).toEqual(["caddy", "podman-app"]);
    expect(out.services.caddy).toEqual({
      requires: ["nixseal-secrets.target"],
      wants: ["caddy-dns-key.service", "caddy-tls-key.service"],
      after: ["nixseal-secrets.target", "caddy-dns-key.service", "caddy-tls-key.service"],
    });
    expect(out.sockets.app.wants).toEqual(["app-env-key.service"]);
    expect(out.timers["acme-renew"].after).toContain("caddy-dns-key.service");
    expect(out.targets).toEqual({});
    expect(out.paths).toEqual({});
  });

  it("without NixOps key units, requires and orders on the target only", () => {
    const out = nixEval(`import ./nix/needed-by.nix { secrets = ${secrets}; nixopsKeys = false; }`) as Out;
    expect(out.services.caddy).toEqual({ requires: ["nixseal-secrets.target"], wants: [], after: ["nixseal-secrets.target"] });
  });

  it("refuses a unit kind NixOS does not key by name", () => {
    const err = nixEvalError(`(import ./nix/needed-by.nix { secrets = { x.neededBy = [ "data.mount" ]; }; nixopsKeys = true; }).services`);
    expect(err).toContain("data.mount");
  });
});
