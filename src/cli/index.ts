import { Command, CommanderError } from "commander";
import { MimicError, userMessageOf } from "../errors.ts";

/**
 * The `mimic` command line. Each subcommand lives in its own module under src/cli/commands and exports
 * `register(program)`. Modules load only when their command runs (the pipeline, the bots and the store
 * are heavy), so the top-level help lists the commands from this table; test/cli/lazy.test.ts checks
 * that each entry matches what its module registers. Add one entry per command.
 */
export const COMMANDS: Record<string, { description: string; load: () => Promise<{ register(program: Command): void }> }> = {
  analyze: {
    description: "Detect faces in images and print boxes, head pose, expression, quality and timings",
    load: () => import("./commands/analyze.ts"),
  },
  worker: {
    description: "run inference jobs from the Redis queue (needs QUEUE_URL); start as many as you like",
    load: () => import("./commands/worker.ts"),
  },
  start: {
    description: "run the bots (DISCORD_TOKEN / TELEGRAM_TOKEN), or the local playground when no token is set",
    load: () => import("./commands/start.ts"),
  },
  register: {
    description: "deploy the Discord commands (needs DISCORD_TOKEN and DISCORD_APP_ID); --guild for one server, instantly",
    load: () => import("./commands/register.ts"),
  },
  meme: {
    description: "Make a meme: your face (--face) wearing the expression of a reaction image",
    load: () => import("./commands/meme.ts"),
  },
  face: { description: "Save, list and remove face templates", load: () => import("./commands/face.ts") },
  morph: {
    description: "Animated GIF: your face (--from) morphing into another expression or face (--to)",
    load: () => import("./commands/morph.ts"),
  },
  audit: {
    description: "Who made this picture? Looks a file (or its SHA-256) up in the audit trail of every server",
    load: () => import("./commands/audit.ts"),
  },
  store: {
    description: "Back up the store (faces, settings, usage, bans, audit trail) to a file, or restore one",
    load: () => import("./commands/store.ts"),
  },
  inspect: {
    description: "Show the AI-edit marks (XMP DigitalSourceType, tool, comments) a file carries, and its SHA-256",
    load: () => import("./commands/inspect.ts"),
  },
};

export function createProgram(): Command {
  // exitOverride: commander's own usage errors (an unknown option, a missing value, a value outside --x's
  // choices) exit as Mimic's refused values do (2), not with commander's 1, which means a failed run.
  return new Command().name("mimic").description("Turn reaction images into personal memes.").showHelpAfterError().exitOverride();
}

/**
 * Registers the command `argv` asks for (`mimic <cmd> …` or `mimic help <cmd>`) from its module, and the
 * others as help-only entries, so a run loads one command's code.
 */
export async function prepareProgram(argv: readonly string[]): Promise<Command> {
  const program = createProgram();
  const asked = argv[0] === "help" ? argv[1] : argv[0];
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    if (name === asked) (await cmd.load()).register(program);
    else program.command(name).description(cmd.description).allowUnknownOption().allowExcessArguments();
  }
  return program;
}

/** Runs the CLI on `argv` (without node and script); errors become one friendly line and an exit code. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    const program = await prepareProgram(argv);
    await program.parseAsync([...argv], { from: "user" });
  } catch (e) {
    // Commander has already printed its message (or the help, or the version).
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (e instanceof MimicError) {
      process.stderr.write(`mimic: ${e.userMessage}\n`);
      process.exit(e.code === "CONFIG" || e.code === "BAD_INPUT" ? 2 : 1);
    }
    process.stderr.write(`mimic: ${userMessageOf(e)}\n${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  }
}
