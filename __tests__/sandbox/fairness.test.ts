import { openSession } from '../helpers/engine';

/**
 * The order in which entries of different sessions are served
 * (sandbox/entry-scheduler.ts): the least costly session first, so a light
 * session is not kept behind sessions that spin; and waiting counts, so a
 * costly session is not kept behind light ones forever.
 */

const spin = (ms: number) => `{ const t = Date.now(); while (Date.now() - t < ${ms}); } 'spun'`;

test('a light session waits for the running entry, not for a turn of every spinning session', async () => {
  const light = openSession();
  const heavy = Array.from({ length: 3 }, () => openSession({ limits: { defaultTimeoutMs: 300 } }));
  await light.eval('1');
  // The spinners have a history: each already spun once.
  await Promise.all(heavy.map((s) => s.eval('for (;;) {}')));
  const spins = heavy.flatMap((s) => Array.from({ length: 4 }, () => s.eval('for (;;) {}')));
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    expect((await light.eval('1 + 1')).value).toBe(2);
    waits.push(performance.now() - started);
  }
  await Promise.all(spins);
  // In turn with the spinners it would wait 3 × 300 ms each time; first, at most the running one.
  waits.sort((a, b) => a - b);
  expect(waits[2]).toBeLessThan(600);
});

test('a costly session still runs while lighter ones keep the process busy', async () => {
  const costly = openSession({ limits: { defaultTimeoutMs: 2_000 } });
  expect((await costly.eval(spin(200))).text).toBe("'spun'");
  // Twenty light sessions with sixty short evals queued each: work for several seconds.
  const light = Array.from({ length: 20 }, () => openSession());
  await Promise.all(light.map((s) => s.eval('1')));
  let lightDone = 0;
  const queued = light.flatMap((s) =>
    Array.from({ length: 60 }, () =>
      s.eval(spin(5)).then(() => {
        lightDone = performance.now();
      }),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect((await costly.eval(spin(200))).text).toBe("'spun'");
  const costlyDone = performance.now();
  await Promise.all(queued);
  // Ordered by cost alone it would run only once they all drained; waiting
  // lowers its cost, so it runs while they still have work queued.
  expect(costlyDone).toBeLessThan(lightDone - 500);
});
