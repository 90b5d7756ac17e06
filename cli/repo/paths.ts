import { join } from "node:path";
import { REPO_FILE, type Repo } from "../../core/index.js";

/** The repo's metadata file. */
export function repoFile(dir: string): string {
  return join(dir, REPO_FILE);
}

/** Directory of the encrypted blobs. */
export function secretsDir(dir: string): string {
  return join(dir, "secrets");
}

/** secrets/<name>.age; the name must already be validated (secretName). */
export function secretFile(dir: string, name: string): string {
  return join(secretsDir(dir), `${name}.age`);
}

/** Directory of the templates (plaintext config text with placeholders, no secret). */
export function templatesDir(dir: string): string {
  return join(dir, "templates");
}

/** templates/<name>; the name must already be validated (secretName). */
export function templateFile(dir: string, name: string): string {
  return join(templatesDir(dir), name);
}

/** The lock file that keeps two nixseal processes from interleaving writes. */
export function lockFile(dir: string): string {
  return join(dir, ".nixseal.lock");
}

/** A host's NixOS config dir: its configDir (relative to the repo) or hosts/<name>. */
export function hostConfigDir(repoDir: string, repo: Repo, host: string): string {
  const configured = repo.hosts[host]?.configDir;
  return join(repoDir, configured ?? join("hosts", host));
}
