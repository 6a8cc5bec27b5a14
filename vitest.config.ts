import { configDefaults, defineConfig } from "vitest/config";

/**
 * Two projects: `fast` (everything but the slow end-to-end files) and `slow`. `npm test` runs both;
 * `npm run test:fast` only the first. SLOW: files that spawn the CLI or other processes, run the whole app,
 * or compare against the TF.js reference; together about two thirds of the suite's time (figures:
 * bench/README.md "Test suite").
 */
export const SLOW = [
  "test/pipeline/transfer/cli-meme.test.ts",
  "test/pipeline/face/cli-analyze.test.ts",
  "test/pipeline/animate/animate.test.ts",
  "test/templates/cli.test.ts",
  "test/templates/multiprocess.test.ts",
  "test/templates/crash.test.ts",
  "test/templates/migrations.test.ts",
  "test/queue/redis.test.ts",
  "test/queue/redis-fast-fail.test.ts",
  "test/queue/ort-debug-log.test.ts",
  "test/queue/animated-cancel.test.ts",
  "test/cli/inspect-marks.test.ts",
  "test/queue/generator.test.ts",
  "test/queue/generator-redis.test.ts",
  "test/queue/hard-stop.test.ts",
  "test/queue/timeout-cli.test.ts",
  "test/bots/soak.test.ts",
  "test/models/equivalence.test.ts",
  "test/ops/endpoint.test.ts",
  "test/ops/outages.test.ts",
  "test/cli/startup-errors.test.ts",
  "test/bots/start.test.ts",
  "test/cli/lazy.test.ts",
  "test/bots/front-door.test.ts",
  "test/cli/front-door.test.ts",
  "test/templates/safety.test.ts",
  "test/bots/playground.test.ts",
  "test/templates/lock-wait.test.ts",
  "test/templates/restore-in-use.test.ts",
  "test/bots/sole-instance.test.ts",
  "test/bots/discord-deadline.test.ts",
  "test/cli/file-refusals.test.ts",
  "test/cli/startup-config.test.ts",
  "test/cli/meme-reaction-faces.test.ts",
  "test/bots/playground-shutdown.test.ts",
  "test/bots/bot-shutdown.test.ts",
  "test/bots/abandoned.test.ts",
  "test/queue/close-while-loading.test.ts",
  "test/cli/start-tokens.test.ts",
  "test/cli/npm-signals.test.ts",
  "test/cli/animated-inputs.test.ts",
  "test/pipeline/animate/playground-animated.test.ts",
  "test/bots/playground-ui.test.ts",
  "test/queue/redis-outage.test.ts",
  "test/queue/redis-ops.test.ts",
  "test/templates/backup.test.ts",
  "test/bots/playground-startup.test.ts",
  "test/templates/disk-full.test.ts",
  "test/templates/names.test.ts",
];

export default defineConfig({
  test: {
    globalSetup: ["test/setup/ci-guard.ts", "test/setup/build.ts"],
    // Bounds for hangs, not speed targets: on a loaded machine a file runs several times slower than alone.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Heavy native work (onnxruntime, sharp) per file; two cores on CI.
    pool: "forks",
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "fast", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...SLOW] } },
      // Several spawned processes per test: a wider bound (a test of eight CLI runs took 60 s at load 16).
      { extends: true, test: { name: "slow", include: SLOW, testTimeout: 300_000, hookTimeout: 300_000 } },
    ],
  },
});
