import { CHARGED_INPUT_NOTE, type ImageInput, type Reply } from "../core/index.ts";

/**
 * How many of one message's pictures are tried in turn while they show no usable face: each try is a
 * download and a queued job, so a message full of pictures cannot make one command cost many renders.
 */
export const MAX_PICTURES_TRIED = 4;

/**
 * The core's refusals of one picture (its face, or the file itself): another picture of the same message may
 * do, so the next one is tried. Each with how the summary says it, for one picture and for several.
 */
const PICTURE_REFUSALS: Record<string, [one: string, several: string]> = {
  NO_FACE: ["has no face I can use", "have no face I can use"],
  FACE_UNUSABLE: ["has a face I could not use", "have faces I could not use"],
  NOT_AN_IMAGE: ["is not a picture I can read", "are not pictures I can read"],
};

export interface NumberedPicture {
  image: ImageInput;
  /** Its place among the message's pictures, from 1: how the user is told which one was used. */
  number: number;
}

const listed = (numbers: number[]) => (numbers.length === 1 ? String(numbers[0]) : `${numbers.slice(0, -1).join(", ")} and ${numbers.at(-1)}`);

/** "Picture 1 has no face I can use, pictures 2 and 3 are not pictures I can read": each reason once, in order of first use. */
function refusedPictures(refused: { number: number; code: string }[]): string {
  const byReason = new Map<string, number[]>();
  for (const r of refused) byReason.set(r.code, [...(byReason.get(r.code) ?? []), r.number]);
  const parts = [...byReason].map(([code, numbers]) => {
    const [one, several] = PICTURE_REFUSALS[code]!;
    return numbers.length === 1 ? `picture ${numbers[0]} ${one}` : `pictures ${listed(numbers)} ${several}`;
  });
  const text = parts.join(", ");
  return `${text[0]!.toUpperCase()}${text.slice(1)}`;
}

/**
 * A meme from the first of a message's pictures that it can use (a title card or a landscape first, the
 * reaction after it; a file that is no picture is passed over too; not one too large, as the core says that of a
 * result too large for the chat as well), trying at most
 * MAX_PICTURES_TRIED of them. Each try is a request of its own, and the core gives back the use of one that was
 * refused while others are left to try (`othersToTry`), so only the picture made counts; where none is made, one
 * moving picture read in vain counts (Reply.countUnused). `make` is the adapter's call into the core. The reply says which
 * picture was used when it was not the first, and why the others were not. Platform-neutral: any adapter whose
 * message can carry several pictures uses it.
 */
export async function memeFromFirstFace(pictures: NumberedPicture[], make: (image: ImageInput, othersToTry: boolean) => Promise<Reply>): Promise<Reply> {
  const tried = pictures.slice(0, MAX_PICTURES_TRIED);
  const refused: { number: number; code: string; reply: Reply }[] = [];
  const replies: Reply[] = [];
  for (const [i, { image, number }] of tried.entries()) {
    const reply = await make(image, i < tried.length - 1);
    replies.push(reply);
    const code = reply.errorCode ?? "";
    if (!(code in PICTURE_REFUSALS)) break;
    refused.push({ number, code, reply });
  }
  const last = replies.at(-1);
  if (!last) throw new Error("memeFromFirstFace needs at least one picture");
  // Nothing made: a moving picture read in vain counts once, as the last one tried did itself, or else the first
  // of those given back while others were left to try.
  const counted = !last.file && (last.text.endsWith(CHARGED_INPUT_NOTE) || ((await replies.find((r) => r.countUnused)?.countUnused?.()) ?? false));
  const note = counted && !last.text.endsWith(CHARGED_INPUT_NOTE) ? ` ${CHARGED_INPUT_NOTE}` : "";
  // One picture: the core's own words.
  if (tried.length === 1) return last;
  if (refused.length === tried.length) {
    const which = pictures.length > tried.length ? `the first ${tried.length} of the ${pictures.length} pictures in that message` : `the ${tried.length} pictures in that message`;
    const said = counted ? ` ${CHARGED_INPUT_NOTE}` : "";
    if (refused.every((r) => r.code === "NO_FACE")) {
      return { ...last, text: `None of ${which} has a face I can use. Pick a picture where a face looks roughly at the camera.${said}` };
    }
    // The core's own advice for the last picture refused for more than having no face (cut off, too small, not a picture).
    const advice = refused.filter((r) => r.code !== "NO_FACE").at(-1)!.reply.text;
    return { ...last, text: `None of ${which} could be used. ${refusedPictures(refused)}. ${advice}${said}` };
  }
  if (refused.length === 0) return { ...last, text: `${last.text}${note}` };
  const used = tried[refused.length]!.number;
  // The picture tried after them refused for another reason (the caller's limits, a caption): the core's refusal as its own sentence.
  if (last.errorCode !== undefined) return { ...last, text: `${refusedPictures(refused)}, and picture ${used} could not be used. ${last.text}${note}` };
  return { ...last, text: `${last.text} ${refusedPictures(refused)}, so this is made from picture ${used}.` };
}
