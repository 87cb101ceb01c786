/**
 * Why the gateway refused to start. `code` is stable (docs/operations.md
 * lists them); the message is for people.
 */
export class GatewayStartError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'GatewayStartError';
    this.code = code;
  }
}
