// The secrets repo as other parts of nixseal (bundle, deploy, status) use it.
// Keep these names and signatures stable; add, do not change.
export { findRepo } from "./find.js";
export { loadRepo, openRepo, saveRepo, type LoadedRepo, type LoadOptions } from "./load.js";
export { withRepoLock } from "./lock.js";
export { secretFile, secretsDir, repoFile, lockFile, hostConfigDir, templateFile, templatesDir } from "./paths.js";
export { hostsOf, secretsForHost, templatesForHost, recipientLines, recipientSetId, isStale, recordRecipientSet, recordedRecipients } from "./recipients.js";
export { parseTarget } from "./validate.js";
export { withLockedRepo } from "./session.js";
export { hostSecretsFor, hostSecretsPath, staleHostSecrets, syncHostSecretsFiles } from "./host-secrets.js";
