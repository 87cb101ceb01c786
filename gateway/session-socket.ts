import type { RawData, WebSocket } from 'ws';
import { CLOSE_CODES } from '../protocol/messages';

/**
 * The events of one WebSocket a session is attached to, as the session needs
 * them: frames, pongs, the close, and ws's protocol violations with a reason
 * a person can read. Whether the session ends or detaches is its own call.
 */
export interface SocketHandlers {
  readonly frame: (data: RawData, isBinary: boolean) => void;
  readonly pong: () => void;
  /** The socket closed with `code`; `violation` is set when ws closed it for a protocol violation. */
  readonly closed: (code: number, violation: string | undefined) => void;
  /** ws found a protocol violation and has sent its close frame (`code`) already. */
  readonly violated: (reason: string, code: number) => void;
}

export function watchSocket(socket: WebSocket, maxFrameBytes: number, on: SocketHandlers): void {
  socket.on('message', on.frame);
  socket.on('pong', on.pong);
  // ws emits 'error' only for protocol violations (a frame over the limit,
  // invalid UTF-8...): the session ends, it does not wait to be resumed.
  // ws has already sent its close frame by then, with the status code and
  // no reason: give that frame a reason a person can read.
  let violation: string | undefined;
  const wsClose = socket.close.bind(socket);
  socket.close = (code?: number, reason?: string | Buffer) =>
    wsClose(code, reason ?? (code === CLOSE_CODES.tooBig ? tooBigReason(socket, maxFrameBytes) : undefined));
  socket.on('close', (code) => on.closed(code, violation));
  socket.on('error', (error: Error & { code?: string }) => {
    const tooBig = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    violation = tooBig ? tooBigReason(socket, maxFrameBytes) : `protocol violation: ${error.message}`;
    // The status ws closed with: 1009 too big, 1007 invalid UTF-8, 1002 any other violation.
    const code = tooBig
      ? CLOSE_CODES.tooBig
      : error.code === 'WS_ERR_INVALID_UTF8'
        ? CLOSE_CODES.invalidPayload
        : CLOSE_CODES.protocolError;
    on.violated(violation, code);
  });
}

/** The reason of a 1009 close: the frame's size (ws knows it from the header) and the limit. */
function tooBigReason(socket: WebSocket, limit: number): string {
  const size = (socket as unknown as { _receiver?: { _payloadLength?: unknown } })._receiver?._payloadLength;
  return typeof size === 'number' && size > limit
    ? `frame too large (${size} bytes; the limit is ${limit})`
    : `frame too large (the limit is ${limit} bytes)`;
}

export function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return (data as Buffer | ArrayBuffer).byteLength;
}

/** A close reason is limited to 123 bytes by the protocol. */
export function truncateReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString()}...`;
}
