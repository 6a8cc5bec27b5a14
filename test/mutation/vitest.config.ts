import { defineConfig } from "vitest/config";

/**
 * The tests Stryker runs against each mutant: the fast unit and integration tests that drive the mutated
 * modules (src/core, moderation, templates, the fair scheduler, the local queue, caption fitting, face
 * validation). Slow model and end-to-end tests stay out: they add minutes per mutant and kill nothing
 * these do not.
 */
const ALL = [
  "test/core/core.test.ts",
  "test/core/core-store.test.ts",
  "test/core/core-rules.test.ts",
  "test/core/input.test.ts",
  "test/templates/moderation.test.ts",
  "test/templates/templates.test.ts",
  "test/queue/fair-scheduler.test.ts",
  "test/queue/local.test.ts",
  "test/queue/local-rules.test.ts",
  "test/pipeline/render/captions.test.ts",
  "test/pipeline/render/fit.test.ts",
  "test/pipeline/transfer/validate.test.ts",
];

// MUTATION_TESTS="a.test.ts,b.test.ts" narrows the set for a run over one module.
const only = process.env.MUTATION_TESTS?.split(",").filter(Boolean);

export default defineConfig({
  test: {
    include: only?.length ? only : ALL,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
