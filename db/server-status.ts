/**
 * The server's own word on a connection's transaction state. Every OK and EOF
 * packet carries the status flags (SERVER_STATUS_IN_TRANS,
 * SERVER_STATUS_AUTOCOMMIT); mysql2 reads them but keeps them only for OK
 * packets. A tracker watches the packets that end each statement and keeps
 * the flags of the last one, so the session knows — instead of guessing from
 * the SQL text — whether a transaction is open and whether autocommit is on.
 */

export const SERVER_STATUS_IN_TRANS = 0x0001;
export const SERVER_STATUS_AUTOCOMMIT = 0x0002;

export interface ServerStatus {
  /** Flags of the last statement's final OK/EOF packet; undefined when it ended with an error (state unknown). */
  readonly flags: number | undefined;
  /** Bumped at the end of every statement, so a reader can tell a fresh status from a stale one. */
  readonly statements: number;
}

interface Tracked {
  flags: number | undefined;
  statements: number;
}

interface CorePacket {
  readonly buffer: Buffer;
  readonly offset: number;
  readonly end: number;
}

interface CoreConnection {
  _command: unknown;
  handlePacket(packet?: CorePacket): void;
}

const tracked = new WeakMap<object, Tracked>();

/** Starts watching a mysql2 core connection (idempotent). */
export function trackServerStatus(connection: object): void {
  if (tracked.has(connection)) return;
  const state: Tracked = { flags: undefined, statements: 0 };
  tracked.set(connection, state);
  const core = connection as CoreConnection;
  const handlePacket = core.handlePacket;
  core.handlePacket = function (this: CoreConnection, packet?: CorePacket) {
    const command = this._command;
    // Read before mysql2 parses: its parser moves the packet's offset and reuses the packet.
    const ending = packet && isStatement(command) ? finalStatus(packet) : undefined;
    handlePacket.call(this, packet);
    if (ending !== undefined && this._command !== command) {
      state.flags = ending === 'error' ? undefined : ending;
      state.statements++;
    }
  };
}

/** The status after the last statement on a tracked connection. */
export function serverStatus(connection: object): ServerStatus {
  const state = tracked.get(connection);
  return state ? { flags: state.flags, statements: state.statements } : { flags: undefined, statements: 0 };
}

function isStatement(command: unknown): boolean {
  const name = (command as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name === 'Query' || name === 'Execute';
}

/** The status flags a statement's last packet would carry, 'error' for ERR, undefined for a row. */
function finalStatus(packet: CorePacket): number | 'error' | undefined {
  const { buffer, offset, end } = packet;
  const first = buffer[offset];
  if (first === 0xff) return 'error';
  // EOF: 0xfe, warnings (2 bytes), status (2 bytes). Shorter than any row starting with 0xfe.
  if (first === 0xfe && end - offset < 13) return buffer.readUInt16LE(offset + 3);
  if (first === 0x00) {
    // OK: 0x00, affected rows and insert id (length-encoded), status (2 bytes).
    let at = offset + 1;
    at = skipLengthEncoded(buffer, at);
    at = skipLengthEncoded(buffer, at);
    if (at + 2 <= end) return buffer.readUInt16LE(at);
  }
  return undefined;
}

function skipLengthEncoded(buffer: Buffer, at: number): number {
  const byte = buffer[at];
  if (byte === undefined || byte < 0xfb) return at + 1;
  if (byte === 0xfc) return at + 3;
  if (byte === 0xfd) return at + 4;
  return at + 9;
}
