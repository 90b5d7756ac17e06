import { registerAdmin } from "./admin.js";
import { registerAge } from "./age.js";
import { registerAudit } from "./audit.js";
import { registerBundle } from "./bundle.js";
import { registerCompletion } from "./completion.js";
import { registerDeploy } from "./deploy.js";
import { registerFleet } from "./fleet.js";
import { registerHost } from "./host.js";
import { registerIdentity } from "./identity.js";
import { registerImport } from "./import.js";
import { registerInit } from "./init.js";
import { registerPush } from "./push.js";
import { registerRollback } from "./rollback.js";
import { registerSecrets } from "./secrets.js";
import { registerStatus } from "./status.js";
import { registerTemplate } from "./template.js";
import { registerVerify } from "./verify.js";
import type { RegisterCommand } from "./context.js";

// One line per command module; keep sorted.
export const commands: RegisterCommand[] = [
  registerAdmin,
  registerAge,
  registerAudit,
  registerBundle,
  registerCompletion,
  registerDeploy,
  registerFleet,
  registerHost,
  registerIdentity,
  registerImport,
  registerInit,
  registerPush,
  registerRollback,
  registerSecrets,
  registerStatus,
  registerTemplate,
  registerVerify,
];
