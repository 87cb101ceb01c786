/**
 * CPU profiles of a measured window only (`--profile` of bench:db and
 * bench:gateway): the V8 sampling profiler through `node:inspector`, written
 * to `bench/results/` and summarised with bench/cpuprofile-top.ts. The
 * profiler perturbs what it measures: quote figures from runs without it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export class WindowProfiler {
  readonly #session = new Session();

  private constructor() {}

  static async start(intervalUs = 250): Promise<WindowProfiler> {
    const profiler = new WindowProfiler();
    profiler.#session.connect();
    await profiler.#post('Profiler.enable');
    await profiler.#post('Profiler.setSamplingInterval', { interval: intervalUs });
    await profiler.#post('Profiler.start');
    return profiler;
  }

  /** Stops, writes the `.cpuprofile` to `file`. */
  async stop(file: string): Promise<void> {
    const { profile } = (await this.#post('Profiler.stop')) as { profile: unknown };
    await this.#post('Profiler.disable');
    this.#session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  }

  #post(method: string, params?: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)));
    });
  }
}
