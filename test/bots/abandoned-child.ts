/**
 * Child process of abandoned.test.ts: the real app (startApp) on the environment's configuration, with the gated
 * handlers (gated-handlers.ts) so a job can be held, and the double's face saved as "me" for each
 * `platform:userId` in MIMIC_TEST_FACES. Prints "ready" once the bots are up; the test then SIGKILLs it.
 */
import { startApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { EnrolResult } from "../../src/queue/jobs.ts";
import type { EnrolledTemplate } from "../../src/templates/templates.ts";
import { enrolDouble } from "../core/doubles.ts";
import { FACE_JPG } from "../core/images.ts";

const running = await startApp(loadConfig(), { handlers: new URL("./gated-handlers.ts", import.meta.url), onFatal: () => process.exit(1) });
const enrolled = (await enrolDouble({ bytes: FACE_JPG })) as EnrolResult;
for (const who of (process.env.MIMIC_TEST_FACES ?? "").split(",").filter(Boolean)) {
  const [platform, userId] = who.split(":");
  await running.app.store.templates.save({ platform, userId }, "me", enrolled.face.data as EnrolledTemplate);
}
console.log("ready");
