// The operator CLI's errors about the repo's hosts and secrets, one factory per
// failure, so every command says the same thing for the same problem (docs/errors.md,
// "Operator CLI"). Messages name hosts and secrets; never a value.
import { EXIT_USAGE, NixsealError, type Repo } from "../core/index.js";
import { didYouMean } from "./suggest.js";

/** A host name that is not in nixseal.json; with the repo, the names it may have meant. */
export function unknownHost(name: string, repo?: Pick<Repo, "hosts">): NixsealError {
  const guess = repo ? didYouMean(name, Object.keys(repo.hosts)) : undefined;
  return new NixsealError("NIXSEAL_ERR_UNKNOWN_HOST", `no host named "${name}"`, {
    hints: [
      ...(guess ? [guess] : []),
      `run "nixseal host list" to see the hosts, or "nixseal host add ${name} --target root@ADDRESS --scan"`,
    ],
  });
}

/** A secret name that is not in nixseal.json; with the repo, the names it may have meant. */
export function unknownSecret(name: string, repo?: Pick<Repo, "secrets">): NixsealError {
  const guess = repo ? didYouMean(name, Object.keys(repo.secrets)) : undefined;
  return new NixsealError("NIXSEAL_ERR_UNKNOWN_SECRET", `no secret named "${name}"`, {
    hints: [...(guess ? [guess] : []), 'run "nixseal secrets list" to see them', `or add it: nixseal secrets add ${name} --host H`],
  });
}

/** `secrets add` of a name that exists. */
export function secretExists(name: string): NixsealError {
  return new NixsealError("NIXSEAL_ERR_SECRET_EXISTS", `secret "${name}" already exists`, {
    hints: [`to give it a new value: nixseal secrets rotate ${name}; to change its hosts: nixseal secrets set ${name} --add-host H`],
  });
}

/** A command line that does not fit together (NIXSEAL_ERR_USAGE): exit status 2, as for commander's own usage errors. */
export function usageError(message: string, hints: string[] = []): NixsealError {
  return new NixsealError("NIXSEAL_ERR_USAGE", message, { hints, exitCode: EXIT_USAGE });
}
