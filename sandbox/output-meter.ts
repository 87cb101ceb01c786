import { performance } from 'node:perf_hooks';
import { jsonStringBytes } from '../protocol/wire-bytes';

/**
 * How much a session may print: per eval (beyond it the eval's output is cut
 * with one notice) and per second across evals and background timers (beyond
 * it lines are dropped, with one notice per second). Bytes are counted as the
 * client receives them: after JSON escaping, in UTF-8.
 */

/** What an eval has printed so far. */
export interface EvalOutput {
  outputBytes: number;
  truncated: boolean;
}

/** `send` the line, `notice` (send the one notice instead) or `drop` it. */
export type Verdict = 'send' | 'notice' | 'drop';

export class OutputMeter {
  readonly #maxPerEval: number;
  readonly #maxPerSecond: number;
  #windowStart = 0;
  #windowBytes = 0;
  #windowNoted = false;

  constructor(maxPerEval: number, maxPerSecond: number) {
    this.#maxPerEval = maxPerEval;
    this.#maxPerSecond = maxPerSecond;
  }

  /** A line printed by a running eval, against that eval's own limit. */
  forEval(output: EvalOutput, text: string): Verdict {
    if (output.truncated) return 'drop';
    output.outputBytes += jsonStringBytes(text);
    if (output.outputBytes > this.#maxPerEval) {
      output.truncated = true;
      return 'notice';
    }
    return 'send';
  }

  /** Any line about to be sent, against the per-second rate. */
  perSecond(text: string): Verdict {
    const now = performance.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowBytes = 0;
      this.#windowNoted = false;
    }
    this.#windowBytes += jsonStringBytes(text);
    if (this.#windowBytes <= this.#maxPerSecond) return 'send';
    if (this.#windowNoted) return 'drop';
    this.#windowNoted = true;
    return 'notice';
  }
}
