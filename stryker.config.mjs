// Mutation testing of the modules that hold Mimic's rules (`npm run test:mutation`; not part of `npm test`).
// One module at a time while writing tests: `npm run test:mutation -- --mutate src/queue/fair-scheduler.ts`.
// Scores and the surviving equivalent mutants are listed in test/README.md.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "test/mutation/vitest.config.ts" },
  // Each test records which mutants it reaches, so a mutant only reruns the tests that cover it.
  coverageAnalysis: "perTest",
  mutate: [
    "src/core/**/*.ts",
    "src/templates/moderation.ts",
    "src/templates/templates.ts",
    "src/queue/fair-scheduler.ts",
    "src/queue/local.ts",
    "src/pipeline/render/fit.ts",
    "src/pipeline/transfer/validate.ts",
  ],
  // Two shared cores: one test process at a time.
  concurrency: 1,
  timeoutMS: 10_000,
  timeoutFactor: 2,
  checkers: [],
  // TypeScript 7 has no JS API for Stryker's tsconfig rewriting, and this tsconfig has no extends/references to rewrite.
  tsconfigFile: "tsconfig.stryker-none.json",
  ignorePatterns: ["bench", "eval", "coverage", "data", "dist", ".tmp*"],
  tempDirName: ".tmp-stryker",
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: "coverage/mutation/mutation.json" },
  htmlReporter: { fileName: "coverage/mutation/index.html" },
  thresholds: { high: 90, low: 80, break: null },
};
