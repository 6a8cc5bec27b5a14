import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/ci-guard.ts", "test/setup/build.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Heavy native work (onnxruntime, sharp) per file; two cores on CI.
    pool: "forks",
    maxWorkers: 2,
  },
});
