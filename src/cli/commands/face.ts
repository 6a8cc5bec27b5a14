import { Option, type Command } from "commander";
import { configuredAnalyzer, inputLimits, readInputFile } from "../args.ts";
import { MimicError, quoted } from "../../errors.ts";
import type { Owner } from "../../templates/templates.ts";
import { requireExistingStore } from "../../templates/existing-store.ts";
// Not the templates' index: that one loads the face pipeline (sharp, onnxruntime), which only `face add` uses.
import { openStore, storeTarget, type Store } from "../../templates/store.ts";

/**
 * `mimic face add|list|rm|default|rename|forget`: manage saved faces in the configured store
 * (DATABASE_URL, default the embedded SQLite file in DATA_DIR). The default user is the local
 * playground's ("playground" / "local"), so faces saved here are the ones the playground uses.
 */
export function register(program: Command): void {
  const face = program.command("face").description("Save, list and remove face templates");
  const withUser = (c: Command) =>
    c
      // No default: "local" is the playground's user only (checkUserFlag); another platform's user must be named.
      .option("--user <id>", "platform user id (default: the playground's local user)")
      .addOption(new Option("--platform <name>", "whose user id --user is").choices(["discord", "telegram", "playground"]).default("playground"));

  withUser(face.command("add").description("Save the face in a photo as a template").argument("<image>", "JPEG, PNG or WebP photo of one face"))
    .requiredOption("--name <name>", "template name: 1–32 of a-z 0-9 _ -")
    .option("--default", "make it the default template")
    .action(async (file: string, o: UserOpts & { name: string; default?: boolean }) => {
      // Read first: a path that cannot be read must not start a store.
      const photo = await readInputFile(file);
      const { enrolFace } = await import("../../templates/enrol.ts");
      // Saving a face is how a store starts: the only face command that may create one.
      await withStore(o, undefined, async (store) => {
        const r = await enrolFace(store.templates, owner(o), o.name, photo, { makeDefault: o.default === true, analyzer: await configuredAnalyzer(), decode: inputLimits() });
        const lines = [`saved ${quoted(r.template.name)}${r.template.isDefault ? " (default)" : ""} for ${o.platform}:${o.user}`];
        for (const w of r.warnings) lines.push(`note: ${w}`);
        process.stdout.write(`${lines.join("\n")}\n`);
      });
    });

  withUser(face.command("list").description("List saved templates"))
    .option("--json", "print JSON")
    .action((o: UserOpts & { json?: boolean }) =>
      withStore(o, "no face was listed", async (store) => {
        const list = await store.templates.list(owner(o));
        if (o.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        } else if (list.length === 0) {
          process.stdout.write(`no saved faces for ${o.platform}:${o.user}; add one with: mimic face add <photo> --name <name>${whoFlags(o)}\n`);
        } else {
          for (const t of list) process.stdout.write(`${t.isDefault ? "*" : " "} ${t.name.padEnd(32)} ${t.createdAt.toISOString()}\n`);
        }
      }),
    );

  withUser(face.command("rm").description("Delete a template").argument("<name>"))
    .action((name: string, o: UserOpts) =>
      withStore(o, "nothing was removed", async (store) => {
        const r = await store.templates.remove(owner(o), name);
        process.stdout.write(`removed ${quoted(name.toLowerCase())}${r.newDefault ? `; default is ${quoted(r.newDefault)}` : ""}\n`);
      }),
    );

  withUser(face.command("default").description("Make a template the default").argument("<name>"))
    .action((name: string, o: UserOpts) =>
      withStore(o, "nothing was changed", async (store) => {
        const t = await store.templates.setDefault(owner(o), name);
        process.stdout.write(`default is now ${quoted(t.name)}\n`);
      }),
    );

  withUser(face.command("rename").description("Rename a template").argument("<from>").argument("<to>"))
    .action((from: string, to: string, o: UserOpts) =>
      withStore(o, "nothing was renamed", async (store) => {
        const t = await store.templates.rename(owner(o), from, to);
        process.stdout.write(`renamed to ${quoted(t.name)}\n`);
      }),
    );

  withUser(face.command("forget").description("Delete every template and usage record of the user"))
    .option("--yes", "confirm")
    .action((o: UserOpts & { yes?: boolean }) =>
      withStore(o, "nothing was deleted", async (store) => {
        if (!o.yes) {
          throw new MimicError("BAD_INPUT", `This deletes every saved face and usage record of ${o.platform}:${o.user}. To confirm, run: mimic face forget --yes${whoFlags(o)}`);
        }
        const r = await store.templates.forgetUser(owner(o));
        const held =
          r.heldRecords === 0 ? "" : r.heldRecords === 1
            ? "; 1 use of the last 24 hours held until a day old (it counts towards quotas and cooldowns)"
            : `; ${r.heldRecords} uses of the last 24 hours held until a day old (they count towards quotas and cooldowns)`;
        process.stdout.write(`forgot ${o.platform}:${o.user}: ${count(r.templates, "template")}, ${count(r.usageRecords, "usage record")}, ${count(r.auditRecords, "audit record")} deleted${held}\n`);
      }),
    );
}

/** "1 template", "2 templates". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

interface UserOpts {
  user: string;
  platform: string;
}

function owner(o: UserOpts): Owner {
  return { platform: o.platform, userId: o.user };
}

/** The flags that make a printed command act for the same user (none for the playground's local user). */
function whoFlags(o: UserOpts): string {
  if (o.user === "local" && o.platform === "playground") return "";
  const user = /^[\w.@-]+$/.test(o.user) ? o.user : `'${o.user.replace(/'/g, "'\\''")}'`;
  return ` --user ${user} --platform ${o.platform}`;
}

/**
 * The store's refusals say what is wrong; here they also get the command that fixes it, as it must be
 * typed (with --user/--platform when the command had them). Where the refusal already says what to do
 * ("remove that one first."), the command completes that sentence instead of saying it again.
 */
function withCliHint(e: unknown, o: UserOpts): unknown {
  if (!(e instanceof MimicError)) return e;
  const d = (e.details ?? {}) as { reason?: string; name?: string; names?: string[] };
  const who = whoFlags(o);
  // `sentence` ends in the command; a refusal that already ends with it has it once.
  const ending = (sentence: string, command: string) =>
    `${e.userMessage.endsWith(`${sentence}.`) ? e.userMessage.slice(0, -1) : `${e.userMessage} ${sentence}`}: ${command}`;
  const message =
    d.reason === "noFaces"
      ? `${e.userMessage} Save one with: mimic face add <photo> --name <name>${who}`
      : d.reason === "noSuchFace"
        ? `${e.userMessage} See them with: mimic face list${who}`
        : d.reason === "nameTaken" && d.name
          ? ending("Pick another name, or remove that one first", `mimic face rm ${d.name}${who}`)
          : d.reason === "limit"
            ? ending("Remove one first", `mimic face rm <name>${who}`)
            : undefined;
  return message ? new MimicError(e.code, message, { cause: e, details: e.details }) : e;
}

/** The store's own check of a user id, before it, in words that name the flag. */
function checkUserFlag(o: UserOpts): void {
  if ((o.user as string | undefined) === undefined) {
    if (o.platform !== "playground") {
      throw new MimicError("BAD_INPUT", `Name the ${o.platform} user with --user <id> (their numeric ${o.platform === "discord" ? "Discord" : "Telegram"} user id): only the playground has a default user.`);
    }
    o.user = "local";
  }
  if (o.user.length === 0) throw new MimicError("BAD_INPUT", "--user must be a user id of 1 to 128 characters (got an empty one).");
  if (o.user.length > 128) throw new MimicError("BAD_INPUT", `--user must be a user id of 1 to 128 characters (got ${o.user.length} characters).`);
}

/**
 * Runs `work` on the configured store. `nothingDone` (e.g. "nothing was removed"): the store must exist
 * already, and a missing one is refused in those words, so a mistyped DATA_DIR creates no empty store
 * whose "no saved faces" would mislead; undefined: the store is created if need be.
 */
async function withStore(o: UserOpts, nothingDone: string | undefined, work: (store: Store) => Promise<void>): Promise<void> {
  checkUserFlag(o);
  if (nothingDone !== undefined) await requireExistingStore(storeTarget(), nothingDone);
  const store = await openStore();
  try {
    await work(store);
  } catch (e) {
    throw withCliHint(e, o);
  } finally {
    await store.close();
  }
}
