// Where the docs live; shared by the always-loaded routes and the lazily loaded docs app.
export const DOCS_PATH = "/docs";
export const DOCS_SCRIPT_PATH = "/docs/scalar.js";
export const SPEC_PATH = "/openapi.json";
