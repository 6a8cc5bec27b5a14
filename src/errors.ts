/**
 * Typed errors. `userMessage` is safe to show to a chat user as-is; `message` is for logs.
 * Adapters render `userMessage`; anything that is not a MimicError becomes a generic apology.
 */
export type ErrorCode =
  | "BAD_INPUT"
  | "NOT_AN_IMAGE"
  | "IMAGE_TOO_LARGE"
  | "NO_FACE"
  | "FACE_UNUSABLE"
  | "NOT_FOUND"
  | "LIMIT_REACHED"
  | "QUOTA_EXCEEDED"
  | "COOLDOWN"
  | "FORBIDDEN"
  /** The NSFW gate refused a picture (input, face or result). */
  | "UNSAFE_CONTENT"
  | "DISABLED"
  | "BUSY"
  | "TIMEOUT"
  | "CANCELLED"
  | "CONFIG"
  | "MODEL"
  | "INTERNAL";

export class MimicError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  /** Seconds after which retrying may succeed (quota, cooldown, busy). */
  readonly retryAfterSeconds?: number;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    userMessage: string,
    opts: { cause?: unknown; retryAfterSeconds?: number; details?: Record<string, unknown>; logMessage?: string } = {},
  ) {
    super(opts.logMessage ?? userMessage, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = "MimicError";
    this.code = code;
    this.userMessage = userMessage;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.details = opts.details;
  }
}

export function isMimicError(e: unknown): e is MimicError {
  return e instanceof MimicError;
}

/** The message a user sees for any thrown value. */
export function userMessageOf(e: unknown): string {
  return isMimicError(e) ? e.userMessage : "Something went wrong on our side. Please try again in a moment.";
}

/**
 * The three ways an upload can be unusable, worded once for every entry point (chats, the playground, the CLI):
 * empty, not a picture at all, or a picture or clip that is damaged or cut short.
 */
export function emptyFile(): MimicError {
  return new MimicError("BAD_INPUT", "That file is empty (0 bytes). Please send the picture again.");
}

/**
 * `clips`: where a clip is accepted too (a reaction; a face photo cannot be one). `hint`: what the file looked
 * like instead, where known ("it looks like application/pdf").
 */
export function notAPicture(opts: { clips?: boolean; hint?: string; cause?: unknown; logMessage?: string } = {}): MimicError {
  const { clips = false, hint, ...rest } = opts;
  return new MimicError("NOT_AN_IMAGE", `That file is not a picture I can use${hint ? ` (${hint})` : ""}. Please send ${acceptedFiles(clips)}.`, rest);
}

/** What may be sent, in the one wording every refusal of a file uses; `clips` where a clip is accepted too. */
export function acceptedFiles(clips: boolean): string {
  return `a JPEG, PNG, WebP or GIF image${clips ? ", or an MP4 or WebM clip" : ""}`;
}

/** A picture or clip whose decoder gave up: most often one cut off on its way. */
export function damagedFile(opts: { cause?: unknown; logMessage?: string } = {}): MimicError {
  return new MimicError("NOT_AN_IMAGE", "That file looks damaged or incomplete (maybe the upload was cut off). Please send it again.", opts);
}

/** A value the user typed or named (a file, a flag's value), quoted as every message quotes it. */
export const quoted = (value: string): string => `“${value}”`;

/** At most this many characters of what a user typed are repeated back in a refusal, so the answer fits a chat message. */
export const ECHO_MAX_CHARS = 40;

/** What a user typed, quoted back in a refusal: cut to ECHO_MAX_CHARS with "…" where longer (never mid surrogate pair). */
export function echoed(text: string): string {
  const chars = [...text];
  return quoted(chars.length > ECHO_MAX_CHARS ? `${chars.slice(0, ECHO_MAX_CHARS).join("")}…` : text);
}

/** A size in words for users: whole KiB below a MiB ("20 KiB", never "0.0 MiB"), MiB with one decimal above. */
export function formatSize(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Prisma's driver-adapter error kinds and codes that mean no connection to the database could be made or kept. */
// TooManyConnections / 53300: the server's or the role's connection limit is reached; like an outage, it passes.
const UNREACHABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const UNREACHABLE_CODES = new Set(["P1001", "P1002", "P1017", "57P01", "53300"]);
/** Socket errors count only inside a database error: a chat API's or a download's say nothing of the database. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH"]);

/** Whether a store error (or one of its causes) says the database server cannot be reached right now. */
export function isDatabaseUnreachable(e: unknown): boolean {
  let fromStore = false;
  for (let cur: unknown = e, depth = 0; cur && typeof cur === "object" && depth < 5; depth++) {
    if (cur instanceof MimicError) return false;
    const err = cur as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
    if (typeof err.code === "string" && UNREACHABLE_CODES.has(err.code)) return true;
    fromStore ||= (typeof err.name === "string" && err.name.startsWith("Prisma")) || err.meta?.driverAdapterError !== undefined || (typeof err.code === "string" && /^P\d{4}$/.test(err.code));
    if (fromStore && typeof err.code === "string" && SOCKET_CODES.has(err.code)) return true;
    const kind = err.meta?.driverAdapterError?.cause?.kind;
    if (typeof kind === "string" && UNREACHABLE_KINDS.has(kind)) return true;
    // Prisma's words for a refused connection, and node-postgres' for one lost mid-query.
    if (typeof err.message === "string" && /can't reach database server|connection terminated unexpectedly/i.test(err.message)) return true;
    cur = err.cause;
  }
  return false;
}
