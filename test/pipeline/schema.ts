/** Validation of document JSON against schema/document.schema.json (draft 2020-12) with ajv. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { REPO } from "../helpers/paths.ts";

const schema = JSON.parse(readFileSync(join(REPO, "schema", "document.schema.json"), "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);

/** The schema's errors for `doc` as text, or null when it validates. */
export function schemaErrors(doc: unknown): string | null {
  if (validate(doc)) return null;
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("\n");
}
