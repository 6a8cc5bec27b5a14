export {
  DIGITAL_SOURCE_TYPE,
  TOOL_NAME,
  TOOL_VERSION,
  CREATOR_TOOL,
  PROVENANCE_COMMENT,
  xmpPacket,
  addPngProvenance,
  gifProvenanceBlocks,
  addMp4Provenance,
} from "./marks.ts";
export { readMarks, type MarksReport } from "./read.ts";
export { renderVisibleMark, VISIBLE_MARK_TEXT } from "./visible.ts";
