import type { Command } from "commander";
import { formatSize, MimicError, quoted } from "../../errors.ts";
import { readCappedFile } from "../args.ts";
import { sha256Hex } from "../../templates/hashes.ts";

/**
 * The largest file inspect reads (it holds the whole file to find the marks): well above any chat's upload limit,
 * so anything Mimic sent fits, and a disk image named by mistake is refused instead of filling memory.
 */
const INSPECT_MAX_BYTES = 256 * 1024 * 1024;

/** `mimic inspect <file> [--json]`: the provenance marks of a PNG, GIF or MP4, and the file's SHA-256. */
export function register(program: Command): void {
  program
    .command("inspect")
    .description("Show the AI-edit marks (XMP DigitalSourceType, tool, comments) a file carries, and its SHA-256")
    .argument("<file>", "PNG, GIF or MP4 file")
    .option("--json", "print machine-readable JSON")
    .action(async (file: string, o: { json?: boolean }) => {
      const bytes = await readCappedFile(file, INSPECT_MAX_BYTES, undefined, {
        kind: "a PNG, GIF or MP4 file",
        tooBig: (size) => new MimicError("BAD_INPUT", `${quoted(file)} is too large to inspect (${formatSize(size)}): inspect reads files up to ${formatSize(INSPECT_MAX_BYTES)}.`),
      });
      // Loaded once there is a file (its visible-mark reader loads sharp): a refused path exits without it.
      const [{ DIGITAL_SOURCE_TYPE, readProvenance }, { sniffImageMime }] = await Promise.all([import("../../pipeline/provenance/index.ts"), import("../../core/input.ts")]);
      const r = readProvenance(bytes);
      // A JPEG or WebP (a chat's re-encoding) is a picture without marks; a text or an archive is not a picture at all.
      if (r.format === "unknown" && !sniffImageMime(bytes)) {
        throw new MimicError("NOT_AN_IMAGE", `${quoted(file)} is not a picture: inspect reads the marks of PNG, GIF and MP4 files.`);
      }
      const sha256 = sha256Hex(bytes);
      const aiEdited = r.digitalSourceType === DIGITAL_SOURCE_TYPE;
      if (o.json) {
        const { xmp: _xmp, ...rest } = r;
        process.stdout.write(`${JSON.stringify({ file, sha256, aiEdited, ...rest }, null, 2)}\n`);
        return;
      }
      const lines = [
        `${file}: ${r.format.toUpperCase()}, sha256 ${sha256}`,
        r.format === "unknown"
          ? "  not a PNG, GIF or MP4: no marks read"
          : aiEdited
            ? "  marked as edited with generative/algorithmic tools (IPTC compositeWithTrainedAlgorithmicMedia)"
            : r.digitalSourceType
              ? `  digital source type: ${r.digitalSourceType}`
              : "  no AI-edit mark found",
        ...(r.creatorTool ? [`  tool: ${r.creatorTool}`] : []),
        ...r.comments.map((c) => `  comment: ${c}`),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
