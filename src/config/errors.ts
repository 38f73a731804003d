/** Typed error of the config.json parser (`loadConfig` / `parseConfig`). */

/**
 * An invalid, unreadable or unsupported config.json. The message is one line:
 * `<file>: <key> <problem> (got <value>)`, e.g.
 * `config.json: hidden_size must be a positive integer (got "abc")`.
 */
export class ConfigError extends Error {
  /** The config file (or the `source` label given to `parseConfig`). */
  readonly file: string;
  /** Dotted key path of the offending value (e.g. `vision_config.sam_depth`), or "" for file-level errors. */
  readonly key: string;

  /**
   * @param file file path or label, first part of the message
   * @param key dotted key path ("" for whole-file problems)
   * @param detail the rest of the message
   */
  constructor(file: string, key: string, detail: string) {
    super(`${file}: ${key ? `${key} ` : ""}${detail}`.replace(/\s*\n\s*/g, " "));
    this.name = "ConfigError";
    this.file = file;
    this.key = key;
  }
}
