import type { Core, Reply } from "../../src/core/index.ts";

/**
 * A core for adapter-only tests: the commands a test scripts, and every other one answering "unused" (so a
 * test that reaches one it did not expect sees it in the reply).
 */
export function scriptedCore(commands: Partial<Core>): Core {
  const unused = async (): Promise<Reply> => ({ text: "unused", ephemeral: true });
  return {
    meme: unused,
    morph: unused,
    faceSave: unused,
    faceList: unused,
    faceThumbnail: unused,
    faceRemove: unused,
    faceDefault: unused,
    faceRename: unused,
    forgetMe: unused,
    usage: unused,
    config: unused,
    audit: unused,
    templateNames: async () => [],
    serverMoved: async () => undefined,
    ...commands,
  };
}
