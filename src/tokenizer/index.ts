/** Tokenizer public API: loading, encode/decode, streaming decode, special ids (spec 4.3–4.5). */
export * from "./build.ts";
export * from "./special.ts";
export * from "./stream.ts";
export * from "./tokenizer.ts";
