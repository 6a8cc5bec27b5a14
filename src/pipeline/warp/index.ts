/** Dense triangle-mesh warp (piecewise affine) and the face-mesh topology used by transfer and morphing. */
export { enlargeCatmullRom, sampleBilinear, warpTriangles } from "./warp.ts";
export { faceMeshPoints, faceMeshTriangles, faceOvalCentre, movedTriangles, triangulate } from "./mesh.ts";
export { foldedTriangles, guardedTriangles, unfoldMesh } from "./unfold.ts";
export type { FaceMesh, FaceMeshOptions } from "./mesh.ts";
export * as meshIndex from "./landmarks.ts";
