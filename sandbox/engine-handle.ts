import type { EngineInput } from './engine-messages';

/**
 * The engine contract: what a session holds of its engine, wherever the
 * engine runs (a SessionEngine in this process, or one in an executor seen
 * through executors/remote-engine.ts). Messages in, messages out
 * (engine-messages.ts); nothing else crosses.
 */
export interface EngineHandle {
  send(input: EngineInput): void;
  close(reason: string): Promise<void>;
  pause(): void;
  resume(): void;
  readonly pending: number;
}
