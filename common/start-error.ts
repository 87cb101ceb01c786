/**
 * The root of every error that stops vmgate from starting (or from loading a
 * configuration it was given): a bad flag value, an unreadable file, a port
 * in use, an executor that cannot start. `code` is stable, for scripts
 * (docs/operations.md lists every one); the message is one line for people.
 * `vmgate serve` prints both: `vmgate: <message> [<code>]`.
 */
export class StartError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
