import { DefaultRestOptions, REST, Routes, type RESTOptions } from "discord.js";
import { MimicError } from "../../errors.ts";
import { commandDefinitions } from "./commands.ts";

/**
 * How long a Discord request may take. discord.js gives every request the same 15 s, which cut the upload of
 * a finished meme on a slow link although Discord took it: a request carrying files gets 15 s plus its size at
 * a slow upstream, bounded.
 */
export interface RestTimeouts {
  /** A request without files, and the base of an upload's time (discord.js's own default, 15 s). */
  timeoutMs: number;
  /** The slow upstream an upload's time allows for (1 Mbit/s). */
  uploadBytesPerSecond: number;
  /** At most this long for any upload (5 minutes: an interaction's token lasts 15). */
  uploadTimeoutMaxMs: number;
}

export const DEFAULT_REST_TIMEOUTS: RestTimeouts = { timeoutMs: 15_000, uploadBytesPerSecond: 125_000, uploadTimeoutMaxMs: 5 * 60_000 };

/** The time a request carrying `bytes` of files may take. */
export function uploadTimeoutMs(bytes: number, t: RestTimeouts = DEFAULT_REST_TIMEOUTS): number {
  return Math.min(t.timeoutMs + Math.ceil((bytes / t.uploadBytesPerSecond) * 1000), Math.max(t.timeoutMs, t.uploadTimeoutMaxMs));
}

/**
 * An upload Discord did not answer in time. It may still have taken the files (its answer was what was slow):
 * the caller looks before saying it failed. discord.js does not retry it (its name is no AbortError): a retry
 * would send the whole file again.
 */
export class UploadTimeoutError extends Error {
  override readonly name = "UploadTimeoutError";
  constructor(
    readonly timeoutMs: number,
    readonly bytes: number,
  ) {
    super(`Discord did not answer an upload of ${bytes} bytes within ${timeoutMs} ms`);
  }
}

/** Bytes of the files in a request body (discord.js sends files as multipart FormData); 0 without files. */
function fileBytes(body: unknown): number {
  if (typeof FormData === "undefined" || !(body instanceof FormData)) return 0;
  let n = 0;
  for (const [, v] of body) if (typeof v !== "string") n += v.size;
  return n;
}

/**
 * discord.js's own request function under our timeouts: a request without files is aborted after
 * timeoutMs as discord.js would (and retried as it would); one with files after uploadTimeoutMs, as an
 * UploadTimeoutError.
 */
function timedRequest(t: RestTimeouts): RESTOptions["makeRequest"] {
  return async (url, init) => {
    const bytes = fileBytes(init.body);
    const ms = bytes > 0 ? uploadTimeoutMs(bytes, t) : t.timeoutMs;
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, ms);
    const outer = init.signal as AbortSignal | null | undefined;
    const onAbort = () => ctrl.abort();
    if (outer?.aborted) ctrl.abort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    try {
      return await DefaultRestOptions.makeRequest(url, { ...init, signal: ctrl.signal });
    } catch (err) {
      if (timedOut && bytes > 0) throw new UploadTimeoutError(ms, bytes);
      throw err;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    }
  };
}

/**
 * REST options shared by the bot and `mimic register`: DISCORD_API_ROOT points both at another
 * Discord-compatible endpoint (a test fake, a proxy). Unset: discord.com.
 */
export function restOptions(apiRoot: string | undefined, timeouts: Partial<RestTimeouts> = {}): Partial<RESTOptions> {
  const t = { ...DEFAULT_REST_TIMEOUTS, ...timeouts };
  // discord.js's own timer only backs ours up: the longest upload, and a little.
  const timing = { makeRequest: timedRequest(t), timeout: Math.max(t.timeoutMs, t.uploadTimeoutMaxMs) + 5_000 };
  if (!apiRoot) return timing;
  const base = apiRoot.replace(/\/+$/, "");
  // GIF stickers come from the media proxy (media.discordapp.net): the same root here.
  return { ...timing, api: `${base}/api`, cdn: base, mediaProxy: base, retries: 0 };
}

export interface DeployOptions {
  token: string;
  appId: string;
  /** Register for one guild (instant) instead of globally (can take up to an hour to appear). */
  guildId?: string;
  apiRoot?: string;
}

/** PUT /applications/{app}[/guilds/{guild}]/commands with the command list; returns the names deployed. */
export async function deployCommands(opts: DeployOptions): Promise<string[]> {
  const rest = new REST({ version: "10", ...restOptions(opts.apiRoot) }).setToken(opts.token);
  const route = opts.guildId
    ? Routes.applicationGuildCommands(opts.appId, opts.guildId)
    : Routes.applicationCommands(opts.appId);
  try {
    const result = (await rest.put(route, { body: commandDefinitions() })) as { name: string }[];
    return result.map((c) => c.name);
  } catch (cause) {
    const status = (cause as { status?: number }).status;
    const hint =
      status === 401
        ? "DISCORD_TOKEN was rejected: copy the bot token again from the Developer Portal."
        : status === 403 || status === 404
          ? "Check DISCORD_APP_ID and, with --guild, that the bot was invited to that server with the applications.commands scope."
          : "Check your network connection and try again.";
    throw new MimicError("CONFIG", `Registering the commands failed (${(cause as Error).message}). ${hint}`, { cause });
  }
}
