// The version: stamped at build time by scripts/build.ts (--define), else read from package.json.
import pkg from "../package.json" with { type: "json" };

declare const BUILD_VERSION: string | undefined;
export const VERSION: string = typeof BUILD_VERSION === "string" ? BUILD_VERSION : `${pkg.version}-dev`;
