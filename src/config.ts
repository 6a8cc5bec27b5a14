import os from "node:os";
import { z } from "zod";
import { MimicError } from "./errors.ts";
import { redactUrl } from "./redact-url.ts";
import { DEFAULT_INFERENCE_THREADS, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_INPUT_PIXELS } from "./pipeline/settings.ts";

/**
 * All configuration comes from environment variables, validated once at start-up and passed down from the
 * composition root (src/app.ts, the CLI's commands); nothing below reads the environment.
 * Every variable is documented in README.md and .env.example. Empty strings count as unset.
 */
const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

/*
 * zod validates; the messages are ours, in words an owner reads (no "expected int, received number"):
 * every helper below sets its own. loadConfig prefixes each with the variable and its value.
 */

/**
 * A setting read from its text: `parse` gives the value, or undefined to refuse the text with `message`;
 * unset gives `def`.
 */
function parsed<T, D>(def: D, parse: (text: string) => T | undefined, message: string) {
  return z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return def;
        const value = parse(v);
        if (value !== undefined) return value;
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      }),
  );
}

/**
 * A whole number written as plain digits: "0x2", "1e3", "2.5", "+2" or " 2" are refused rather than read
 * as something the owner may not have meant.
 */
const wholeNumberIn = (min: number, max: number) => (v: string) => (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? Number(v) : undefined);

const str = () => z.preprocess(emptyToUndefined, z.string().optional());
const int = (def: number, min: number, max: number) => parsed(def, wholeNumberIn(min, max), `must be a whole number from ${min} to ${max}`);
/** As int, without a default: unset stays undefined. */
const optionalInt = (min: number, max: number) => parsed(undefined, wholeNumberIn(min, max), `must be a whole number from ${min} to ${max}`);
/** A decimal number in [min, max], plain digits with an optional fraction. */
const num = (def: number, min: number, max: number) =>
  parsed(def, (v) => (/^\d+(\.\d+)?$/.test(v) && Number(v) >= min && Number(v) <= max ? Number(v) : undefined), `must be a number from ${min} to ${max}`);
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, def: T[number]) =>
  z.preprocess(emptyToUndefined, z.enum(values, { error: `must be one of ${values.join(", ")}` }).default(def));
/** Whole milliseconds in [0, max], or `off`/`never` (any case) for no limit at all: Infinity. */
const msOrOff = (def: number, max: number) =>
  parsed(
    def,
    (v) => (["off", "never"].includes(v.trim().toLowerCase()) ? Infinity : wholeNumberIn(0, max)(v)),
    `must be a whole number of milliseconds from 0 to ${max}, or "off"`,
  );

/**
 * A URL of one of `schemes` ("http", "https") with a host. zod's url() takes any scheme (ftp:, javascript:),
 * which would pass here and then fail at every request, retried for ever.
 */
function urlOf(schemes: readonly string[], message: string) {
  return z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .refine((v) => {
        if (v === undefined) return true;
        // The WHATWG parser also reads "http:host" as http://host/: the slashes are required here.
        const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(v)?.[1]?.toLowerCase();
        if (!scheme || !schemes.includes(scheme) || /\s/.test(v) || !URL.canParse(v)) return false;
        return new URL(v).hostname !== "";
      }, message),
  );
}

export const configSchema = z.object({
  // --- general
  LOG_LEVEL: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"], "info"),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default("./data")),

  // --- inference (onnxruntime-node)
  ORT_EXECUTION_PROVIDER: oneOf(["cpu", "cuda"], "cpu"),
  ORT_THREADS: int(DEFAULT_INFERENCE_THREADS, 1, 64),
  MAX_INPUT_PIXELS: int(DEFAULT_MAX_INPUT_PIXELS, 1_000, 1_000_000_000),
  MAX_INPUT_BYTES: int(DEFAULT_MAX_INPUT_BYTES, 1_024, 1024 * 1024 * 1024),
  // --- section markers below: each area adds its own variables here (keep one block per area).
  // --- store
  DATABASE_URL: str(),
  MAX_TEMPLATES_PER_USER: int(10, 1, 1000),
  /** Defaults for servers that set none (and for private chats); 0 = unlimited. */
  DAILY_QUOTA_PER_USER: int(50, 0, 1_000_000),
  DAILY_QUOTA_PER_SERVER: int(0, 0, 100_000_000),
  COOLDOWN_SECONDS: int(5, 0, 86_400),
  /** The owner's bounds on what a server's admins may set: the most memes per user per day (0 = no bound), the shortest cooldown. */
  MAX_DAILY_QUOTA_PER_USER: int(0, 0, 1_000_000),
  MIN_COOLDOWN_SECONDS: int(0, 0, 86_400),
  /** The owner's bounds on the NSFW check: kept on everywhere, and refusing at no higher a score than this. */
  NSFW_REQUIRED: z
    .preprocess(emptyToUndefined, z.enum(["true", "false", "1", "0"], { error: "must be true or false (or 1 or 0)" }).default("false"))
    .transform((v) => v === "true" || v === "1"),
  MAX_NSFW_THRESHOLD: num(1, 0.01, 1),
  AUDIT_RETENTION_DAYS: int(30, 1, 3650),
  /** PostgreSQL: connections a process's store pool may hold (its face reader holds up to 4 more; see README). */
  DATABASE_POOL_SIZE: int(10, 1, 1000),
  /**
   * A request whose process stopped without answering it (killed, crashed): after this long its use is given
   * back and its user told to send it again, by whichever process serves that platform.
   */
  UNANSWERED_TIMEOUT_SECONDS: int(60, 2, 3600),
  // --- queue
  QUEUE_URL: urlOf(["redis", "rediss"], "must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379"),
  QUEUE_WORKERS: int(os.availableParallelism(), 1, 256),
  QUEUE_CAPACITY: int(200, 1, 100_000),
  QUEUE_PER_USER: int(1, 1, 100),
  QUEUE_JOB_TIMEOUT_MS: int(60_000, 100, 3_600_000),
  QUEUE_CHEAP_FIRST: z
    .preprocess(emptyToUndefined, z.enum(["true", "false", "1", "0"], { error: "must be true or false (or 1 or 0)" }).default("true"))
    .transform((v) => v === "true" || v === "1"),
  QUEUE_PREFIX: z.preprocess(emptyToUndefined, z.string().regex(/^[A-Za-z0-9:_-]+$/, "may use only letters, digits, :, _ and -").default("mimic")),
  QUEUE_RESULT_TTL_S: int(600, 10, 86_400),
  QUEUE_MAX_PAYLOAD_BYTES: int(32 * 1024 * 1024, 1_024, 512 * 1024 * 1024),
  QUEUE_STALL_MS: int(30_000, 500, 600_000),
  /**
   * Redis mode: how long after the last worker was seen requests are still taken (a worker restarting comes
   * back within it); past it they are refused as no_workers. `off`: they wait for a worker (workers scaled to zero).
   */
  QUEUE_NO_WORKER_GRACE_MS: msOrOff(30_000, 86_400_000),
  // --- generator (optional LivePortrait backend; owner-supplied ONNX files, see README "Generator backend")
  MIMIC_GENERATOR: oneOf(["mesh", "liveportrait"], "mesh"),
  /** Folder holding FaceFusion's live_portrait_*.onnx files; unset = <DATA_DIR>/liveportrait. */
  MIMIC_GENERATOR_DIR: str(),
  /** How many of this process's workers load the generator (each holds the models in memory); unset = all. */
  MIMIC_GENERATOR_WORKERS: optionalInt(0, 256),
  // --- animations
  /** ffmpeg for MP4 animations: a path, or "none" for GIF only; unset = the binary @ffmpeg-installer ships. */
  FFMPEG_PATH: z.preprocess(emptyToUndefined, z.string().optional()),
  // --- bots
  DISCORD_TOKEN: str(),
  /**
   * Application id, needed by `mimic register` (Developer Portal → General Information): a snowflake. Checked at
   * start-up, so a token or a name pasted here is not first reported by Discord as an unknown application.
   */
  DISCORD_APP_ID: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^\d{17,20}$/, "must be the application id from the Discord Developer Portal (General Information): 17 to 20 digits").optional(),
  ),
  /** Another Discord-compatible API/CDN root (tests, proxies); unset = discord.com. */
  DISCORD_API_ROOT: urlOf(["http", "https"], "must be an http:// or https:// URL, e.g. https://discord.com"),
  TELEGRAM_TOKEN: str(),
  /** Local Bot API server or test fake, no trailing slash; unset = https://api.telegram.org. */
  TELEGRAM_API_ROOT: urlOf(["http", "https"], "must be an http:// or https:// URL, e.g. https://api.telegram.org"),
  // --- playground (started when no bot token is set)
  PLAYGROUND_HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
  PLAYGROUND_PORT: int(8787, 0, 65_535),
  /** Seconds between two generations of the playground's one local user; 0 = none. */
  PLAYGROUND_COOLDOWN_SECONDS: int(0, 0, 86_400),
  // --- stopping (SIGTERM/SIGINT)
  /** How long running and queued jobs may finish before the rest are told Mimic is restarting. */
  SHUTDOWN_DRAIN_MS: int(10_000, 0, 3_600_000),
  // --- ops (health, readiness, Prometheus metrics): off unless OPS_PORT is set
  OPS_PORT: optionalInt(0, 65_535),
  OPS_HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
});

export type Config = z.infer<typeof configSchema>;

/** Where the generator's model files are looked for. */
/** This machine's optimised onnxruntime graphs of the bundled models (src/pipeline/face/session.ts). */
export function modelCacheDir(config: Pick<Config, "DATA_DIR">): string {
  return `${config.DATA_DIR.replace(/\/+$/, "")}/model-cache`;
}

export function generatorDir(config: Pick<Config, "MIMIC_GENERATOR_DIR" | "DATA_DIR">): string {
  return config.MIMIC_GENERATOR_DIR ?? `${config.DATA_DIR.replace(/\/+$/, "")}/liveportrait`;
}

/** Variables a .env may rightly set for Node.js or the system rather than Mimic. */
const NOT_MIMICS = /^(NODE_\w+|UV_THREADPOOL_SIZE|TZ|LANG|LC_\w+|HOME|PATH|TMPDIR|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|npm_\w+|CUDA_\w+|OMP_\w+|PG\w+|SSL_\w+)$/;

/**
 * The .env file's settings that are not Mimic's (MIMIC_ENV_FILE_KEYS, as bin/mimic.mjs read it), each with the
 * setting it is most likely a misspelling of: a typo is otherwise silently ignored, and its default used.
 */
export function unknownSettings(env: NodeJS.ProcessEnv = process.env): Array<{ key: string; meant?: string }> {
  const known = Object.keys(configSchema.shape);
  return (env.MIMIC_ENV_FILE_KEYS ?? "")
    .split(",")
    .filter((k) => k && !known.includes(k) && !k.startsWith("MIMIC_ENV_") && !NOT_MIMICS.test(k))
    .map((key) => {
      const [meant] = known.map((k) => [k, editDistance(key.toUpperCase(), k)] as const).filter(([, d]) => d <= 2).sort((a, b) => a[1] - b[1])[0] ?? [];
      return meant ? { key, meant } : { key };
    });
}

/** Levenshtein distance (settings names are short: the plain table is enough). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** Parse and validate; throws a CONFIG MimicError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema
    .refine((c) => !(c.OPS_PORT !== undefined && c.OPS_PORT !== 0 && c.OPS_PORT === c.PLAYGROUND_PORT && !c.DISCORD_TOKEN && !c.TELEGRAM_TOKEN), {
      message: "OPS_PORT and PLAYGROUND_PORT are the same port: give the ops endpoint and the playground different ones",
      path: ["OPS_PORT"],
    })
    .safeParse(env);
  if (!parsed.success) {
    // Each bad setting with its value and where it was set (the shell, or the .env file bin/mimic.mjs read).
    const fromFile = new Set((env.MIMIC_ENV_FILE_KEYS ?? "").split(",").filter(Boolean));
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? "");
      const value = env[key];
      const where = fromFile.has(key) && env.MIMIC_ENV_FILE ? ` in ${env.MIMIC_ENV_FILE}` : "";
      // Never a secret in a message that may reach a log: tokens hidden, a URL's password masked.
      const shown = value === undefined ? undefined : /TOKEN|SECRET|PASSWORD/.test(key) ? "(hidden)" : redactUrl(value);
      return `${i.path.join(".")}${shown === undefined ? "" : `=${JSON.stringify(shown.length > 60 ? `${shown.slice(0, 60)}…` : shown)}`}${where}: ${i.message}`;
    });
    throw new MimicError("CONFIG", `Invalid configuration: ${problems.join("; ")}`);
  }
  return parsed.data;
}

// Silence unused helper warnings until every area uses them.
void num;
