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

/** A size in words for users: whole KiB below a MiB ("20 KiB", never "0.0 MiB"), MiB with one decimal above. */
export function formatSize(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
