import type { Command } from "commander";
import { formatSize, MimicError, quoted } from "../../errors.ts";
import { readCappedFile } from "../args.ts";
import { sha256Hex } from "../../templates/hashes.ts";

/**
 * The largest file inspect reads (it holds the whole file to find the marks): well above any chat's upload limit,
 * so anything Mimic sent fits, and a disk image named by mistake is refused instead of filling memory.
 */
const INSPECT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * `mimic inspect <file> [--json]`: the provenance marks of a PNG, GIF or MP4 (or of a JPEG or WebP copy that kept
 * the XMP packet), and the file's SHA-256.
 */
export function register(program: Command): void {
  program
    .command("inspect")
    .description("Show the AI-edit marks (XMP DigitalSourceType, tool, comments) a file carries, and its SHA-256")
    .argument("<file>", "PNG, GIF or MP4 file (or a JPEG or WebP copy of one)")
    .option("--json", "print machine-readable JSON")
    .action(async (file: string, o: { json?: boolean }) => {
      const bytes = await readCappedFile(file, INSPECT_MAX_BYTES, undefined, {
        kind: "a PNG, GIF, MP4, JPEG or WebP file",
        tooBig: (size) => new MimicError("BAD_INPUT", `${quoted(file)} is too large to inspect (${formatSize(size)}): inspect reads files up to ${formatSize(INSPECT_MAX_BYTES)}.`),
      });
      // Loaded once there is a file: a refused path exits without it.
      const [{ readMarks }, { DIGITAL_SOURCE_TYPE }] = await Promise.all([import("../../pipeline/provenance/read.ts"), import("../../pipeline/provenance/marks.ts")]);
      const { damaged, ...r } = readMarks(bytes);
      // A text or an archive is not a picture at all; a picture whose own structure is broken cannot be read on.
      if (r.format === "unknown") {
        throw new MimicError("NOT_AN_IMAGE", `${quoted(file)} is not a picture: inspect reads the marks of PNG, GIF and MP4 files and of JPEG or WebP copies.`);
      }
      if (damaged) throw new MimicError("NOT_AN_IMAGE", `${quoted(file)} is a damaged file (${damaged}): inspect cannot read its marks.`);
      const sha256 = sha256Hex(bytes);
      const aiEdited = r.digitalSourceType === DIGITAL_SOURCE_TYPE;
      if (o.json) {
        const { xmp: _xmp, ...rest } = r;
        process.stdout.write(`${JSON.stringify({ file, sha256, aiEdited, ...rest }, null, 2)}\n`);
        return;
      }
      const lines = [
        `${file}: ${r.format.toUpperCase()}, sha256 ${sha256}`,
        // A JPEG or WebP (a chat's re-encoding) keeps Mimic's XMP packet only where the converter kept metadata.
        r.xmp === null && (r.format === "jpeg" || r.format === "webp")
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
