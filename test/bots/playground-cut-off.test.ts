import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startPlayground, type Playground } from "../../src/bots/playground/server.ts";
import { FACE_JPG, REACTION_LAUGH_JPG, reactionGif } from "../core/images.ts";
import { startTestApp, type TestApp } from "./harness.ts";

/**
 * A reaction whose face the picture's edge cuts through (eyes and mouth alike, here the laugh cut at its right
 * cheek): mimic has nothing to copy, so the real playground, on the real pipeline, refuses it and gives the use
 * back instead of answering "Here you go" with the user's own photo.
 */
let app: TestApp;
let playground: Playground;

beforeEach(async () => {
  app = await startTestApp();
  playground = await startPlayground({ core: app.core, host: "127.0.0.1", port: 0, maxUploadBytes: 3 << 20 });
});
afterEach(async () => {
  await playground?.close();
  await app?.close();
});

interface Answer {
  ok: boolean;
  text: string;
  errorCode?: string;
}

async function post(path: string, fields: Record<string, string>, file: { field: string; bytes: Uint8Array }): Promise<Answer> {
  const body = new FormData();
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  body.append(file.field, new Blob([Buffer.from(file.bytes)]), "picture.png");
  const res = await fetch(new URL(path, playground.url), { method: "POST", body, headers: { "x-mimic": "1" } });
  return (await res.json()) as Answer;
}
const usage = async () => ((await (await fetch(new URL("/api/usage", playground.url), { headers: { "x-mimic": "1" } })).json()) as Answer).text;

const CUT_OFF = "The reaction's face is cut off by the picture's edge (or too close to it to read), so there is no expression to copy onto yours. Please send a picture that shows the whole face.";

describe("a reaction cut off by its picture's edge", () => {
  it("mimic (still, morph, animation) is refused and its use given back; a swap still puts the face in the picture", async () => {
    expect(await post("/api/faces", { name: "me" }, { field: "photo", bytes: FACE_JPG })).toMatchObject({ ok: true });
    // franck_04117 is 720 px wide with his face right of centre: cut at 420 px, the edge runs through both eyes and the mouth.
    const cut = new Uint8Array(await sharp(REACTION_LAUGH_JPG).extract({ left: 0, top: 0, width: 420, height: 576 }).png().toBuffer());
    const before = await usage();

    expect(await post("/api/meme", { top: "x" }, { field: "image", bytes: cut })).toEqual({ ok: false, errorCode: "FACE_UNUSABLE", text: CUT_OFF });
    expect(await post("/api/morph", {}, { field: "image", bytes: cut })).toEqual({ ok: false, errorCode: "FACE_UNUSABLE", text: CUT_OFF });
    expect(await post("/api/meme", {}, { field: "image", bytes: await reactionGif(cut, 3, 240) })).toEqual({ ok: false, errorCode: "FACE_UNUSABLE", text: CUT_OFF });
    const eyesOnly = await post("/api/meme", { regions: "upper" }, { field: "image", bytes: cut });
    expect(eyesOnly).toMatchObject({ ok: false, errorCode: "FACE_UNUSABLE" });
    expect(eyesOnly.text).toMatch(/^The reaction's eyes and brows are cut off .*, the part you asked for, so there is no expression to copy/);
    expect(await usage(), "every refused use was given back").toBe(before);

    const swapped = await post("/api/meme", { mode: "swap" }, { field: "image", bytes: cut });
    expect(swapped.ok, swapped.text).toBe(true);
    expect(swapped.text).toMatch(/cut off or too close to the picture's edge to read/);
    // The uncut picture is still a meme, counted.
    expect(await post("/api/meme", {}, { field: "image", bytes: REACTION_LAUGH_JPG })).toMatchObject({ ok: true });
    expect(await usage()).not.toBe(before);
  });
});
