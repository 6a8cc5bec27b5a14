/** The playground's JSON answer to a form. */
export interface PlaygroundAnswer {
  ok: boolean;
  text: string;
  errorCode?: string;
}

/** Posts a form to the playground as a browser sends it (`filename` "" is a file input left blank). */
export async function postForm(
  base: string,
  path: string,
  fields: Record<string, string>,
  file?: { field: string; bytes: Uint8Array; filename: string },
): Promise<PlaygroundAnswer> {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--b\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--b\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    parts.push(Buffer.from(file.bytes), Buffer.from("\r\n"));
  }
  parts.push(Buffer.from("--b--\r\n"));
  const res = await fetch(new URL(path, base), {
    method: "POST",
    body: Buffer.concat(parts),
    headers: { "x-mimic": "1", "content-type": "multipart/form-data; boundary=b" },
  });
  return (await res.json()) as PlaygroundAnswer;
}
