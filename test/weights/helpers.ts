// Test data seeds: fresh per run so the tests see new data every time, reproducible by setting
// CUSNN_TEST_SEED to the seed printed in a failing test's name.
export const TEST_SEED: number = process.env.CUSNN_TEST_SEED ? Number(process.env.CUSNN_TEST_SEED) : Math.floor(Math.random() * 2 ** 32);

/** A 32-bit seed derived from TEST_SEED, different for each `salt`. */
export const seedFor = (salt: number): number => (TEST_SEED + Math.imul(salt, 0x9e3779b9)) >>> 0;
