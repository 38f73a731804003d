/** Where a model argument points: a checkpoint directory or a hub repo id in the Hugging Face cache. */
import { resolveModel } from "../hub/resolve.ts";
import type { LoadOptions } from "./types.ts";

/**
 * Resolves `model` to a checkpoint directory: an existing directory as is; a repo id
 * (`org/name[@revision]`) through the Hugging Face cache, downloading it unless
 * `download: false` or `HF_HUB_OFFLINE=1`.
 * @throws HubError whose one-line message says what to run when the model is not available
 */
export async function resolveModelDir(model: string, opts: LoadOptions = {}): Promise<string> {
  const spec = opts.revision && !model.includes("@") ? `${model}@${opts.revision}` : model;
  return (await resolveModel(spec, { download: opts.download ?? true })).dir;
}
