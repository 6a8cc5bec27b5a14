/** Shared helpers for benchmarks run by bench/run.ts: machine description, percentiles, README sections. */
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";

export interface MachineInfo {
  cores: number;
  cpu: string;
  node: string;
  date: string;
  /** 1-minute load average when the run started: above ~0.5 per core the machine was busy. */
  loadAtStart: number;
  summary: string;
}

export interface BenchContext {
  name: string;
  machine: MachineInfo;
  /** Command-line arguments given to `npm run bench`. */
  args: string[];
  log(message: string): void;
}

export function machineInfo(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  const cores = os.availableParallelism();
  const loadAtStart = os.loadavg()[0];
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const node = process.version;
  return { cores, cpu, node, date, loadAtStart, summary: `${cores} cores (nproc), ${cpu}, Node ${node}, ${date}, load ${loadAtStart.toFixed(2)}` };
}

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

export const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");

const README = new URL("./README.md", import.meta.url);

/** Replaces the text between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` in bench/README.md. */
export function writeReadmeSection(name: string, body: string): void {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const text = readFileSync(README, "utf8");
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`bench/README.md has no ${begin} … ${end} markers`);
  writeFileSync(README, `${text.slice(0, i + begin.length)}\n${body.trim()}\n${text.slice(j)}`);
}
