/** Where a model argument points: a checkpoint directory (hub repo ids come with src/hub). */
import { existsSync, statSync } from "node:fs";
import type { LoadOptions } from "./types.ts";

/**
 * Resolves `model` to a checkpoint directory.
 * @throws Error when it is not a directory
 */
export async function resolveModelDir(model: string, _opts: LoadOptions = {}): Promise<string> {
  if (existsSync(model) && statSync(model).isDirectory()) return model;
  throw new Error(`model ${model}: not a checkpoint directory`);
}
