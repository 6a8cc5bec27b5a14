import { execFile } from "node:child_process";
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
