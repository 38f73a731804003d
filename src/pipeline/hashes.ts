/**
 * Hashes recorded in a document's JSON (`input_sha256`, `settings_hash`) so that a later run can
 * tell whether a previous output still belongs to the same input and settings (`--resume`). The input's hash is `inputHash` (inputs.ts).
 */
import { createHash } from "node:crypto";

/**
 * The canonical JSON text of a value: object keys sorted (recursively), no whitespace,
 * properties whose value is `undefined` left out and `toJSON` honoured (as `JSON.stringify` does).
 *
 * @throws TypeError for values JSON cannot represent (bigint, cyclic structures).
 */
export function canonicalJson(value: unknown): string {
  const ancestors = new Set<object>();
  const norm = (v: unknown, key: string): unknown => {
    if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
      v = (v as { toJSON: (k: string) => unknown }).toJSON(key);
    }
    if (v === null || typeof v !== "object") return v;
    if (ancestors.has(v)) throw new TypeError("canonicalJson: cyclic structure");
    ancestors.add(v);
    try {
      if (Array.isArray(v)) return v.map((x, i) => norm(x, String(i)));
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = norm((v as Record<string, unknown>)[k], k);
      return sorted;
    } finally {
      ancestors.delete(v);
    }
  };
  return JSON.stringify(norm(value, ""));
}

/**
 * Hash of a settings object: SHA-256 (64 lowercase hex digits) of its {@link canonicalJson}, so
 * key order does not matter.
 *
 * @throws TypeError as {@link canonicalJson}.
 */
export function settingsHash(settings: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(settings)).digest("hex");
}
