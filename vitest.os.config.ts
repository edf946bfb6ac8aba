import { defineConfig } from "vitest/config";

/**
 * `npm run test:os`: a real OS (Debian, built from its packages by test/e2e/os-image.sh) booting
 * through `npm start` (test/e2e/os-*.test.ts). Its own step, after `npm test` in CI: a cold image
 * build and a full systemd + cloud-init boot under TCG take longer than all of `npm test`
 * (docs/development.md).
 */
export default defineConfig({
  test: {
    name: "os",
    include: ["test/e2e/os-*.test.ts"],
    environment: "node",
    // The image build (cold) and each boot wait on lines and events, each with its own deadline.
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
    fileParallelism: false,
  },
});
