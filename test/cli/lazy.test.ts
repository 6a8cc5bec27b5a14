import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { COMMANDS, createProgram, prepareProgram } from "../../src/cli/index.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/faces/${name}`, import.meta.url));

/** Blocks tsx and the TypeScript compiler: the compiled CLI must never need them at run time. */
const NO_TS_HOOK = `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (/(^|\\/)(tsx|typescript)(\\/|$)/.test(specifier) || /\\.ts$/.test(specifier)) throw new Error("TypeScript at run time: " + specifier);
  return next(specifier, context);
}`)}`;
const NO_TS = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(NO_TS_HOOK)});`)}`;

/** Refuses the heavy packages: a command that loads one fails with this message instead of its own refusal. */
const NO_HEAVY_HOOK = `data:text/javascript,${encodeURIComponent(`
const heavy = (process.env.MIMIC_TEST_NO_LOAD ?? "").split(",");
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const pkg = heavy.find((p) => r.url.includes("/node_modules/" + p + "/"));
  if (pkg) throw new Error("heavy module loaded: " + pkg);
  return r;
}`)}`;
const NO_HEAVY = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(NO_HEAVY_HOOK)});`)}`;

describe("mimic CLI start-up", () => {
  it("lists every command in the help from its table entry, matching what the module registers", async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const program = createProgram();
      (await entry.load()).register(program);
      const cmd = program.commands.find((c: Command) => c.name() === name);
      expect(cmd, name).toBeDefined();
      expect(entry.description, name).toBe(cmd!.description());
    }
  });

  it("loads only the module of the command that runs", async () => {
    const spies = Object.fromEntries(Object.entries(COMMANDS).map(([name, e]) => [name, vi.spyOn(e, "load")]));
    try {
      await prepareProgram(["--help"]);
      for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled();
      const program = await prepareProgram(["face", "list"]);
      expect(spies.face).toHaveBeenCalledTimes(1);
      for (const [name, spy] of Object.entries(spies)) if (name !== "face") expect(spy, name).not.toHaveBeenCalled();
      // the real command, with its subcommands, not the help-only entry
      expect(program.commands.find((c) => c.name() === "face")!.commands.map((c) => c.name())).toContain("list");
      await prepareProgram(["help", "meme"]);
      expect(spies.meme).toHaveBeenCalledTimes(1);
    } finally {
      for (const spy of Object.values(spies)) spy.mockRestore();
    }
  });

  it("a command that refuses at once does not load the heavy modules it would use only for the work", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-light-"));
    try {
      const env = { ...process.env, DATA_DIR: dir, DATABASE_URL: "", DISCORD_TOKEN: "", QUEUE_URL: "", LOG_LEVEL: "silent" };
      const pipeline = ["sharp", "onnxruntime-node"];
      const cases: [string[], string[], RegExp][] = [
        [["meme", "--face", join(dir, "none.png"), "--reaction", join(dir, "none.png"), "--out", join(dir, "out.png")], pipeline, /Cannot read --face .*no such file/],
        [["audit", join(dir, "none.png")], [...pipeline, "@prisma/client"], /neither a file nor a SHA-256/],
        [["inspect", join(dir, "none.png")], [...pipeline, "@prisma/client"], /Cannot read .*no such file/],
        [["register"], ["discord.js", "sharp", "@prisma/client"], /needs DISCORD_TOKEN and DISCORD_APP_ID/],
        [["worker"], ["bullmq", "ioredis", ...pipeline], /needs QUEUE_URL/],
        [["store", "restore", join(dir, "none.db")], pipeline, /Cannot read the backup .*no such file/],
        [["face", "list"], pipeline, /There is no store at/],
      ];
      for (const [args, heavy, refusal] of cases) {
        const r = await run(process.execPath, ["--import", NO_HEAVY, "bin/mimic.mjs", ...args], { cwd: root, env: { ...env, MIMIC_TEST_NO_LOAD: heavy.join(",") } }).then(
          () => ({ code: 0, stderr: "" }),
          (e: { code: number; stderr: string }) => e,
        );
        expect(r.stderr, args.join(" ")).toMatch(refusal);
        expect(r.code, args.join(" ")).toBe(2);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs compiled JavaScript with no TypeScript loader: help, and a face analysis end to end", async () => {
    const node = (...args: string[]) =>
      run(process.execPath, ["--import", NO_TS, "bin/mimic.mjs", ...args], {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: "silent" },
      });
    const help = await node("--help");
    for (const name of Object.keys(COMMANDS)) expect(help.stdout).toContain(name);
    const analysis = await node("analyze", fixture("astronaut.png"), "--json");
    expect(JSON.parse(analysis.stdout).faces.length).toBe(1);
  });
});
