import type { IncomingMessage } from "node:http";
import busboy from "busboy";

export interface UploadedPart {
  field: string;
  filename: string;
  mime: string;
  bytes: Buffer;
}

/** A request body as the fake servers see it: multipart fields + files (parsed by busboy), or JSON. */
export interface ReadBody {
  fields: Record<string, string>;
  files: UploadedPart[];
  json?: unknown;
}

/**
 * Reads a multipart or JSON request body. busboy, because grammY's unquoted `filename=photo.jpg`
 * is rejected by undici's strict `Response.formData()`.
 */
export function readBody(req: IncomingMessage): Promise<ReadBody> {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("multipart/form-data")) {
    return new Promise((resolve, reject) => {
      const body: ReadBody = { fields: {}, files: [] };
      const bb = busboy({ headers: req.headers });
      bb.on("field", (k, v) => (body.fields[k] = v));
      bb.on("file", (field, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => body.files.push({ field, filename: info.filename ?? "", mime: info.mimeType, bytes: Buffer.concat(chunks) }));
      });
      bb.on("close", () => resolve(body));
      bb.on("error", reject);
      req.pipe(bb);
    });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      resolve({ fields: {}, files: [], ...(text ? { json: JSON.parse(text) as unknown } : {}) });
    });
  });
}
