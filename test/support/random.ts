/**
 * A seeded pseudo-random generator (a 32-bit linear congruential one, glibc's constants), for
 * fuzz tests that must produce the same inputs on every run: a failure can be replayed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 32;
  };
}
