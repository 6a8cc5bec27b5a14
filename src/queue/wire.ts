/**
 * Moving jobs, results and errors across thread and process borders: MimicErrors keep their code and
 * user message.
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
