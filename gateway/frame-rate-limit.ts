import type { GatewayLimits } from './config';
import { TokenBucket } from './token-bucket';

/**
 * A connection's frame rate limits (`--max-frames-per-second`,
 * `--max-bytes-per-second`) and the refusals that end a session that keeps
 * sending past them (1008).
 */
export class FrameRateLimit {
  readonly #frames: TokenBucket | undefined;
  readonly #bytes: TokenBucket | undefined;
  readonly #strikes: TokenBucket | undefined;
  /** Why a frame was refused, for the client. */
  readonly refusal: string;

  constructor(limits: Pick<GatewayLimits, 'maxFramesPerSecond' | 'maxBytesPerSecond' | 'maxFrameBytes'>) {
    const { maxFramesPerSecond, maxBytesPerSecond } = limits;
    if (maxFramesPerSecond > 0) this.#frames = new TokenBucket(maxFramesPerSecond, 2 * maxFramesPerSecond);
    if (maxBytesPerSecond > 0) {
      this.#bytes = new TokenBucket(maxBytesPerSecond, Math.max(2 * maxBytesPerSecond, limits.maxFrameBytes));
    }
    // A client that keeps sending past its limit for about ten seconds' worth of frames is closed.
    if (this.#frames || this.#bytes)
      this.#strikes = new TokenBucket(maxFramesPerSecond / 10 || 10, maxFramesPerSecond || 100);
    this.refusal = `rate limit: at most ${maxFramesPerSecond} frames and ${maxBytesPerSecond} bytes per second; this frame was not processed`;
  }

  /**
   * `pass`, `refuse` (answer LIMIT, process nothing) or `close` (persistent
   * abuse). A refused frame still spends a frame token: refusing is work too.
   */
  admit(bytes: number): 'pass' | 'refuse' | 'close' {
    const now = performance.now();
    const within = !(this.#frames && !this.#frames.take(1, now)) && !(this.#bytes && !this.#bytes.take(bytes, now));
    if (within) return 'pass';
    return this.#strikes && !this.#strikes.take(1) ? 'close' : 'refuse';
  }
}
