// `version`: prints the version stamped into the binary at build time.
import { VERSION } from "../version";
import { defineCommand } from "./command";

export const versionCommand = defineCommand({ name: "version", summary: "Print the version and exit.", settings: [] }, () => {
  console.log(VERSION);
});
