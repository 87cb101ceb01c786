export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as { __vmgateTestDatabase?: { stop(): Promise<void> } }).__vmgateTestDatabase;
  await embedded?.stop();
}
