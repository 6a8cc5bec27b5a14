/**
 * Moving jobs, results and errors across thread and process borders: MimicErrors keep their code and
 * user message; byte arrays are transferred (zero-copy) when they own their whole buffer.
 */
import { MimicError, type ErrorCode } from "../errors.ts";

export interface WireError {
  code: ErrorCode;
  userMessage: string;
  message: string;
  retryAfterSeconds?: number;
  details?: Record<string, unknown>;
}

export function toWireError(e: unknown): WireError {
  if (e instanceof MimicError) {
    return {
      code: e.code,
      userMessage: e.userMessage,
      message: e.message,
      retryAfterSeconds: e.retryAfterSeconds,
      details: e.details,
    };
  }
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { code: "INTERNAL", userMessage: "Something went wrong while making your image. Please try again.", message };
}

export function fromWireError(w: WireError): MimicError {
  return new MimicError(w.code, w.userMessage, {
    retryAfterSeconds: w.retryAfterSeconds,
    details: w.details,
    logMessage: w.message,
  });
}

/**
 * The ArrayBuffers inside `value` that can be transferred without breaking anything else: only those a
 * single view covers completely (a small Node Buffer is a slice of a shared pool — never transfer that).
 */
export function transferablesOf(value: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 6 || value === null || typeof value !== "object") return out;
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer;
    if (buf instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buf.byteLength && !out.includes(buf)) {
      out.push(buf);
    }
    return out;
  }
  if (Array.isArray(value)) {
    if (value.length <= 64) for (const v of value) transferablesOf(v, out, depth + 1);
    return out;
  }
  for (const v of Object.values(value)) transferablesOf(v, out, depth + 1);
  return out;
}
