import { NixsealError, withStep } from "../../core/index.js";

/** Runs fn; a NixsealError it throws gets `label: ` before its message (which file, key or machine). */
export function where<T>(label: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof NixsealError ? withStep(label, err) : err;
  }
}
