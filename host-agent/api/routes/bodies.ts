// The request bodies of POST /stage, /check and /activate, checked by hand: a few fields
// do not pay for a JSON-schema compiler at every start of the agent. A bad body is a 400
// with NIXSEAL_ERR_AGENT_BAD_REQUEST saying which field is wrong.
import type { ActivateRequest, CheckRequest, StageRequest } from "../../../core/agent-api.js";
import { errors } from "../../errors.js";

const bad = (why: string) => errors.badRequest([why]);

function object(body: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the body must be a JSON object");
  const extra = Object.keys(body).filter((k) => !keys.includes(k));
  if (extra.length) throw bad(`unknown field ${extra.map((k) => JSON.stringify(k)).join(", ")}`);
  return body as Record<string, unknown>;
}

function absolutePath(dir: unknown): string {
  if (typeof dir !== "string" || !dir.startsWith("/") || dir.length > 4096 || dir.includes("\0")) {
    throw bad('"dir" must be an absolute path (at most 4096 characters)');
  }
  return dir;
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") throw bad(`"${name}" must be true or false`);
  return value;
}

/** Deploy with a config: the digest of the generated file it installed, which the rebuild that follows is built from. */
function optionalDigest(value: unknown, name: string): string | undefined {
  if (value !== undefined && (typeof value !== "string" || !/^sha256:[0-9a-f]{64}$/.test(value))) throw bad(`"${name}" must be "sha256:" followed by 64 lowercase hex digits`);
  return value;
}

/** Drops the optional fields that were not given. */
function present<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `{ "dir": "/absolute/path", "requireUnits"?: bool }` */
export function stageBody(body: unknown): StageRequest {
  const { dir, requireUnits } = object(body, ["dir", "requireUnits"]);
  return present({ dir: absolutePath(dir), requireUnits: optionalBoolean(requireUnits, "requireUnits") });
}

/** `{ "dir": "/absolute/path", "nextSystem"?: "sha256:<64 hex>", "requireUnits"?: bool }` */
export function checkBody(body: unknown): CheckRequest {
  const { dir, nextSystem, requireUnits } = object(body, ["dir", "nextSystem", "requireUnits"]);
  return present({ dir: absolutePath(dir), nextSystem: optionalDigest(nextSystem, "nextSystem"), requireUnits: optionalBoolean(requireUnits, "requireUnits") });
}

/** `{ "generation": N, "nextSystem"?: "sha256:<64 hex>" }`, N from 1 to 999999999 */
export function activateBody(body: unknown): ActivateRequest {
  const { generation, nextSystem } = object(body, ["generation", "nextSystem"]);
  if (typeof generation !== "number" || !Number.isInteger(generation) || generation < 1 || generation > 999_999_999) {
    throw bad('"generation" must be a whole number from 1 to 999999999');
  }
  return present({ generation, nextSystem: optionalDigest(nextSystem, "nextSystem") });
}
