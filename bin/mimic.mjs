#!/usr/bin/env node
// Entry for the `mimic` CLI: runs the TypeScript sources through tsx's loader so no build step is needed.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/index.ts");
