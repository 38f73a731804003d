/**
 * Special and added token ids of the DeepSeek-OCR / DeepSeek-OCR 2 tokenizer (spec 4.5).
 *
 * Both models ship the byte-identical tokenizer: the DeepSeek-V3 byte-level BPE vocabulary
 * (128,000 entries) with 830 added tokens (ids 0..2 and 128000..128826). The values below are
 * checked against ../shared/tokenizer/golden_ids.json (`special_token_ids`) by the tests.
 */

/** `<｜begin▁of▁sentence｜>` (full-width bars U+FF5C, U+2581): BOS, prepended by hand to every prompt (spec 4.3). */
export const BOS_ID = 0;
/** `<｜end▁of▁sentence｜>`: EOS, the only stop token of the official generation (spec 8). */
export const EOS_ID = 1;
/** `<｜▁pad▁｜>`: padding (never generated in practice). */
export const PAD_ID = 2;
/** `<image>`: one id per image embedding slot (spec 4.3, 4.4); hard-coded as `image_token_id` upstream. */
export const IMAGE_TOKEN_ID = 128815;
/** `<|ref|>` (ASCII bars): opens a grounding label (spec 9.1). */
export const REF_START_ID = 128816;
/** `<|/ref|>`: closes a grounding label. */
export const REF_END_ID = 128817;
/** `<|det|>`: opens a grounding box list. */
export const DET_START_ID = 128818;
/** `<|/det|>`: closes a grounding box list. */
export const DET_END_ID = 128819;
/** `<|grounding|>`: prompt marker asking for layout spans. */
export const GROUNDING_ID = 128820;
/** `<td>`: table cell (special=true; whitelisted by the vLLM n-gram guard, spec 8.2). */
export const TD_ID = 128821;
/** `</td>`: table cell end (special=true; whitelisted by the vLLM n-gram guard). */
export const TD_END_ID = 128822;
/** `<tr>`: table row. */
export const TR_ID = 128823;
/** `</tr>`: table row end. */
export const TR_END_ID = 128824;
/** `<|User|>` (ASCII bars; not used by the `plain` template). */
export const USER_ID = 128825;
/** `<|Assistant|>` (ASCII bars; not used by the `plain` template). */
export const ASSISTANT_ID = 128826;
/** `"\n"` as a single BPE token (`Ċ`). */
export const NEWLINE_ID = 201;

/** Text of the BOS token. */
export const BOS_TOKEN = "<｜begin▁of▁sentence｜>";
/** Text of the EOS token; the official code cuts it off the end of the decoded output (spec 8.1). */
export const EOS_TOKEN = "<｜end▁of▁sentence｜>";
/** Text of the PAD token. */
export const PAD_TOKEN = "<｜▁pad▁｜>";
/** Text of the image placeholder, split on by the prompt builder (spec 4.3). */
export const IMAGE_TOKEN = "<image>";

/** Number of ids the tokenizer knows (max id 128826, plus one). */
export const TOKENIZER_VOCAB_SIZE = 128827;
/**
 * Rows of the language model's embedding / lm_head (`vocab_size` 129280). Ids
 * 128827..129279 have no token: decoding drops them silently.
 */
export const MODEL_VOCAB_SIZE = 129280;

/** Table-cell ids the official vLLM n-gram processor never bans: `{<td>, </td>}` (spec 8.2). */
export const NGRAM_WHITELIST_IDS: readonly number[] = Object.freeze([TD_ID, TD_END_ID]);

/**
 * The 12 tokens that DeepSeek-OCR adds to the DeepSeek-V3 tokenizer (ids 128815..128826), in id
 * order, with the flags of the official tokenizer_config.json (all `special: true`,
 * `normalized: false`, no strip, not single-word). Used by the in-memory tokenizer build.
 */
export const OCR_ADDED_TOKENS: readonly { readonly id: number; readonly content: string }[] = Object.freeze([
  { id: IMAGE_TOKEN_ID, content: "<image>" },
  { id: REF_START_ID, content: "<|ref|>" },
  { id: REF_END_ID, content: "<|/ref|>" },
  { id: DET_START_ID, content: "<|det|>" },
  { id: DET_END_ID, content: "<|/det|>" },
  { id: GROUNDING_ID, content: "<|grounding|>" },
  { id: TD_ID, content: "<td>" },
  { id: TD_END_ID, content: "</td>" },
  { id: TR_ID, content: "<tr>" },
  { id: TR_END_ID, content: "</tr>" },
  { id: USER_ID, content: "<|User|>" },
  { id: ASSISTANT_ID, content: "<|Assistant|>" },
]);
