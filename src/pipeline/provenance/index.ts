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
export { readProvenance, type ProvenanceReport } from "./inspect.ts";
export { renderVisibleMark, VISIBLE_MARK_TEXT } from "./visible.ts";
