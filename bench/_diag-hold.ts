// temporary diagnostic: why does holding sessions-with-eval get slower as they accumulate?
import { fork } from 'node:child_process';
import pino from 'pino';
import WebSocket from 'ws';
import { startGateway } from '../gateway/server';

const role = process.argv[2];
const N = Number(process.argv[3] ?? 5000);
if (role === 'server') {
  void (async () => {
    const gw = await startGateway({
      port: 0,
      host: '127.0.0.1',
      sharedFile: undefined,
      logger: pino({ level: 'silent' }),
      limits: { maxSessions: 20000, maxSessionsPerAddress: 20000, heartbeatMs: 0 },
      session: {},
    });
    process.send?.({ port: gw.port });
    process.on('message', (m: string) => {
      if (m === 'stop') {
        const h = process.memoryUsage();
        process.send?.({ heap: h.heapUsed, rss: h.rss });
        setTimeout(() => process.exit(0), 100);
      }
    });
    process.on('disconnect', () => process.exit(0));
  })();
} else {
  const extra = process.argv.slice(4);
  const server = fork(__filename, ['server'], {
    execArgv: [...process.execArgv, ...extra],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  server.once('message', async (m: { port: number }) => {
    const url = `ws://127.0.0.1:${m.port}`;
    const t0 = performance.now();
    let last = t0;
    const held: WebSocket[] = [];
    let next = 0;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(url, ['vmgate.v1']);
        let frames = 0;
        ws.on('message', () => {
          frames++;
          if (frames === 2) {
            held.push(ws);
            resolve();
          }
        });
        ws.on('open', () => ws.send('{"op":"eval","id":1,"code":"1 + 1"}'));
        ws.on('error', reject);
      });
    const worker = async () => {
      while (next < N) {
        next++;
        await one();
        if (held.length % 500 === 0) {
          const now = performance.now();
          console.log(
            held.length,
            'open',
            ((now - t0) / 1000).toFixed(1),
            's, last 500:',
            ((now - last) / 500).toFixed(2),
            'ms/session',
          );
          last = now;
        }
      }
    };
    await Promise.all(Array.from({ length: Number(process.env.PAR ?? 100) }, worker));
    server.send('stop');
    server.once('message', (r) => {
      console.log(r);
      for (const ws of held) ws.terminate();
      setTimeout(() => process.exit(0), 500);
    });
  });
}
