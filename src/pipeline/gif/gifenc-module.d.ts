/** Types for the parts of gifenc 1.0.3 we use (the package ships none). Palettes are arrays of [r, g, b]. */
declare module "gifenc" {
  export type GifPalette = number[][];

  export interface GifWriteFrameOptions {
    palette?: GifPalette | null;
    /** Milliseconds; gifenc stores delay / 10 rounded. */
    delay?: number;
    transparent?: boolean;
    transparentIndex?: number;
    /** -1 = encoder default; 0..3 GIF disposal method. */
    dispose?: number;
    /** LZW minimum code size in bits (must cover the largest index). */
    colorDepth?: number;
    repeat?: number;
    /** Manual mode only: write the logical screen descriptor + global table before this frame. */
    first?: boolean;
  }

  export interface GifEncoderInstance {
    reset(): void;
    finish(): void;
    bytes(): Uint8Array;
    bytesView(): Uint8Array;
    writeHeader(): void;
    writeFrame(index: Uint8Array, width: number, height: number, opts?: GifWriteFrameOptions): void;
  }

  export function GIFEncoder(opts?: { initialCapacity?: number; auto?: boolean }): GifEncoderInstance;

  export function quantize(
    rgba: Uint8Array | Uint8ClampedArray,
    maxColors: number,
    opts?: { format?: "rgb565" | "rgb444" | "rgba4444"; oneBitAlpha?: boolean | number; clearAlpha?: boolean },
  ): GifPalette;

  export function applyPalette(
    rgba: Uint8Array | Uint8ClampedArray,
    palette: GifPalette,
    format?: "rgb565" | "rgb444" | "rgba4444",
  ): Uint8Array;
}
