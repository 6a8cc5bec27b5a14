/**
 * Reads a template's binary columns straight from the driver. Through Prisma's driver adapters a Bytes
 * value travels as an array of numbers (the SQLite adapter does `Array.from(bytes)`), which made loading
 * one ~300 KB face crop cost 40–150 ms; the driver returns it as a Buffer in well under a millisecond.
 * Loading the template is on every meme's path, so it gets this fast lane. Every read is still scoped
 * by owner (template id AND user id); writes all go through Prisma.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { SQLITE_BUSY_TIMEOUT_MS } from "./retry.ts";
import { nextTurn } from "./turns.ts";
import type { DatabaseTarget } from "./url.ts";

export interface TemplateBlobs {
  cropPng: Uint8Array;
  landmarks: Uint8Array;
  embedding: Uint8Array;
}

export interface BlobReader {
  read(templateId: number, userId: number): Promise<TemplateBlobs | null>;
  close(): Promise<void>;
}

const SQL = "SELECT crop_png, landmarks, embedding FROM templates WHERE id = ? AND user_id = ?";

const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** PostgreSQL connections the face reader holds at most (fewer where the store's pool is smaller; README counts them). */
export const FACE_READER_CONNECTIONS = 4;

export function openBlobReader(target: DatabaseTarget, poolSize = FACE_READER_CONNECTIONS): BlobReader {
  if (target.dialect === "sqlite") {
    // A read-only connection: in WAL mode readers take no lock a writer waits for, so it cannot stall
    // the store's own (writing) connection in this thread. Nor is it stalled by a writer elsewhere; where a
    // reader must wait at all (another process recovering the WAL), briefly: the unit retries (gate.ts).
    const db = new Database(target.path, { readonly: true, fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
    const stmt = db.prepare<[number, number], { crop_png: Buffer; landmarks: Buffer; embedding: Buffer }>(SQL);
    return {
      async read(templateId, userId) {
        // Synchronous, and ~300 KB per face crop: one read per event-loop turn (see turns.ts).
        await nextTurn();
        const row = stmt.get(templateId, userId);
        return row ? { cropPng: view(row.crop_png), landmarks: view(row.landmarks), embedding: view(row.embedding) } : null;
      },
      async close() {
        db.close();
      },
    };
  }
  const pool = new pg.Pool({ connectionString: target.connectionString, max: poolSize, options: `-c search_path="${target.schema}"` });
  pool.on("error", () => undefined); // an idle client dropped by the server: the pool replaces it
  return {
    async read(templateId, userId) {
      const r = await pool.query<{ crop_png: Buffer; landmarks: Buffer; embedding: Buffer }>(SQL.replace("?", "$1").replace("?", "$2"), [templateId, userId]);
      const row = r.rows[0];
      return row ? { cropPng: view(row.crop_png), landmarks: view(row.landmarks), embedding: view(row.embedding) } : null;
    },
    async close() {
      await pool.end();
    },
  };
}
