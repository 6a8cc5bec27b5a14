import { Command } from "commander";
import { MimicError, userMessageOf } from "../errors.ts";
import { register as registerAnalyze } from "./commands/analyze.ts";
import { register as registerWorker } from "./commands/worker.ts";
import { register as registerStart } from "./commands/start.ts";
import { register as registerRegister } from "./commands/register.ts";
import { register as registerMeme } from "./commands/meme.ts";
import { register as registerFace } from "./commands/face.ts";
import { register as registerMorph } from "./commands/morph.ts";

/**
 * The `mimic` command line. Each subcommand lives in its own module under src/cli/commands and
 * exports `register(program)`. Add one import + one call per command below.
 */
const program = new Command();
program.name("mimic").description("Turn reaction images into personal memes.").showHelpAfterError();

// -- commands (one line each)
registerAnalyze(program);
registerWorker(program);
registerStart(program);
registerRegister(program);
registerMeme(program);
registerFace(program);
registerMorph(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof MimicError) {
    process.stderr.write(`mimic: ${e.userMessage}\n`);
    process.exit(e.code === "CONFIG" || e.code === "BAD_INPUT" ? 2 : 1);
  }
  process.stderr.write(`mimic: ${userMessageOf(e)}\n${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
