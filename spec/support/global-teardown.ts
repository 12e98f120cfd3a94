/** Jest global teardown: stop the broker global setup started (by pid) and remove its data dir. */
export default async function globalTeardown(): Promise<void> {
  const broker = globalThis.__RIVVEN_TEST_BROKER__;
  globalThis.__RIVVEN_TEST_BROKER__ = undefined;
  await broker?.stop();
}
