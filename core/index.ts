// The one import path for cli/, host-agent/ and server/. Keep it light: the
// agent's boot path imports it, so nothing heavy (age-encryption, fastify,
// libsodium) may be loaded at module top level here.
export * from "./errors.js";
export * from "./fs.js";
export * from "./schema/names.js";
export { ownerAndGroup } from "./owner-group.js";
export * from "./schema/parse.js";
export * from "./schema/repo.js";
export * from "./schema/bundle.js";
export * from "./on-host.js";
export * from "./agent-api.js";
export { unitActionLine, unitActionShort, unitsFor } from "./unit-actions.js";
export * from "./ssh-target.js";
export * from "./schema/verify-report.js";
export * from "./schema/host-secrets.js";
export * from "./schema/limits.js";
export * from "./schema/secret-path.js";
export * from "./age/index.js";
export * from "./template.js";
