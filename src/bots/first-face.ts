import type { ImageInput, Reply } from "../core/index.ts";

/**
 * How many of one message's pictures are tried in turn while they show no usable face: each try is a
 * download and a queued job, so a message full of pictures cannot make one command cost many renders.
 */
export const MAX_PICTURES_TRIED = 4;

/** The core's refusals about the picture's face: another picture of the same message may have one. */
const FACELESS = new Set(["NO_FACE", "FACE_UNUSABLE"]);

export interface NumberedPicture {
  image: ImageInput;
  /** Its place among the message's pictures, from 1: how the user is told which one was used. */
  number: number;
}

const listed = (numbers: number[]) => (numbers.length === 1 ? String(numbers[0]) : `${numbers.slice(0, -1).join(", ")} and ${numbers.at(-1)}`);
const whichHaveNoFace = (numbers: number[]) => `${numbers.length === 1 ? "Picture" : "Pictures"} ${listed(numbers)} ${numbers.length === 1 ? "has" : "have"} no face I can use`;

/**
 * A meme from the first of a message's pictures that shows a usable face (a title card or a landscape first,
 * the reaction after it), trying at most MAX_PICTURES_TRIED of them. Each try is a request of its own, and the
 * core gives back the use of one that found no face, so only the picture made counts. `make` is the adapter's
 * call into the core. The reply says which picture was used when it was not the first, or that none of those
 * tried had a face. Platform-neutral: any adapter whose message can carry several pictures uses it.
 */
export async function memeFromFirstFace(pictures: NumberedPicture[], make: (image: ImageInput) => Promise<Reply>): Promise<Reply> {
  const tried = pictures.slice(0, MAX_PICTURES_TRIED);
  const faceless: number[] = [];
  let last: Reply | undefined;
  for (const { image, number } of tried) {
    last = await make(image);
    if (!FACELESS.has(last.errorCode ?? "")) break;
    faceless.push(number);
  }
  if (!last) throw new Error("memeFromFirstFace needs at least one picture");
  // One picture: the core's own words.
  if (tried.length === 1) return last;
  if (faceless.length === tried.length) {
    const which = pictures.length > tried.length ? `the first ${tried.length} of the ${pictures.length} pictures in that message` : `the ${tried.length} pictures in that message`;
    return {
      ...last,
      text: `None of ${which} has a face I can use. Pick a picture where a face looks roughly at the camera.`,
    };
  }
  if (faceless.length === 0) return last;
  const used = tried[faceless.length]!.number;
  // A later picture refused for another reason (too large, not a picture): both are said, the core's refusal as its own sentence.
  if (last.errorCode !== undefined) return { ...last, text: `${whichHaveNoFace(faceless)}, and picture ${used} could not be used. ${last.text}` };
  return { ...last, text: `${last.text} ${whichHaveNoFace(faceless)}, so this is made from picture ${used}.` };
}
