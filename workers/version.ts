import pkg from "../package.json";

/** The release version, from package.json (bundled into the worker at build time). */
export const VERSION: string = pkg.version;
