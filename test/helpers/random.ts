// Seeded uniform generator for tests that need reproducible random data (mulberry32: small,
// fast, good enough for test inputs; the seed is printed by the tests so a failure can be rerun).
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: CUSNN_TEST_SEED when given (to repeat a failure), else fresh each run. */
export function testSeed(): number {
  return Number(process.env.CUSNN_TEST_SEED ?? Math.floor(Math.random() * 1_000_000_007));
}
