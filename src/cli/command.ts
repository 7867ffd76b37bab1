// What every subcommand shares: its own flags (mirrored by environment variables), the subset of
// server settings it accepts, positional arguments, per-command --help, and fail-fast errors.
import { ConfigError, loadConfig, settings, type Config } from "../config";

type SettingKey = keyof typeof settings;

export interface OptionSpec {
  flag: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  help: string;
  /** A switch: present or absent, takes no value. */
  boolean?: boolean;
  /** Placeholder for the value in --help. */
  value?: string;
}

export interface CommandSpec<O extends string> {
  /** "backup", "user create"… */
  name: string;
  summary: string;
  /** After the command name in the usage line, e.g. "<file>". */
  usage?: string;
  description?: string;
  options?: Record<O, OptionSpec>;
  /** The server settings this command understands ("all" for serve). */
  settings: SettingKey[] | "all";
  positionals?: { name: string; required: boolean }[];
}

export interface Parsed<O extends string> {
  /** Flag values (a switch reads "true"), falling back to each option's environment variable. */
  options: Partial<Record<O, string>>;
  positionals: string[];
  config: Config;
}

export interface Command {
  name: string;
  summary: string;
  help(): string;
  run(args: string[]): Promise<void> | void;
  /** A group of subcommands answers --help itself (each subcommand has its own). */
  handlesHelp?: boolean;
}

function settingKeys(spec: CommandSpec<string>): SettingKey[] {
  return spec.settings === "all" ? (Object.keys(settings) as SettingKey[]) : spec.settings;
}

export function commandHelp(spec: CommandSpec<string>): string {
  const lines = [`Usage: chat-server ${spec.name}${spec.options || spec.settings.length ? " [flags]" : ""}${spec.usage ? " " + spec.usage : ""}`, "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  const rows: [string, string][] = [];
  for (const o of Object.values<OptionSpec>(spec.options ?? {})) {
    rows.push([o.boolean ? o.flag : `${o.flag} ${o.value ?? "<value>"}`, o.help + (o.env ? ` (env ${o.env})` : "")]);
  }
  for (const key of settingKeys(spec)) {
    const s = settings[key];
    const def = Array.isArray(s.default) ? s.default.join(",") : String(s.default);
    rows.push([`${s.flag} <value>`, `${s.help} (env ${s.env}${def ? `, default ${def}` : ""})`]);
  }
  rows.push(["--help, -h", "Show this help"]);
  lines.push("", "Flags:");
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(30)} ${right}`);
  return lines.join("\n") + "\n";
}

/** Splits argv into the command's options, positionals and the server settings; anything else is an error naming it. */
export function parseCommand<O extends string>(spec: CommandSpec<O>, argv: string[], env: Record<string, string | undefined> = process.env): Parsed<O> {
  const options = (spec.options ?? {}) as Record<O, OptionSpec>;
  const byFlag = new Map<string, O>(Object.entries<OptionSpec>(options).map(([k, o]) => [o.flag, k as O]));
  const allowed = new Set(settingKeys(spec).map((k) => settings[k].flag));
  const allSettingFlags = new Set(Object.values(settings).map((s) => s.flag));
  const values: Partial<Record<O, string>> = {};
  const settingArgs: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const key = byFlag.get(flag);
    if (key !== undefined) {
      if (options[key].boolean) {
        if (eq !== -1) throw new ConfigError(`${flag} takes no value`);
        values[key] = "true";
        continue;
      }
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new ConfigError(`${flag} needs a value`);
      values[key] = value;
      continue;
    }
    if (allowed.has(flag)) {
      if (eq === -1) {
        if (argv[i + 1] === undefined) throw new ConfigError(`${flag} needs a value`);
        settingArgs.push(flag, argv[++i]!);
      } else settingArgs.push(arg);
      continue;
    }
    if (allSettingFlags.has(flag)) throw new ConfigError(`${flag} does not apply to "${spec.name}" (see chat-server ${spec.name} --help)`);
    throw new ConfigError(`unknown flag ${flag} for "${spec.name}" (see chat-server ${spec.name} --help)`);
  }
  for (const [key, o] of Object.entries<OptionSpec>(options)) {
    if (values[key as O] === undefined && o.env && env[o.env] !== undefined && env[o.env] !== "") values[key as O] = env[o.env]!;
  }
  const expected = spec.positionals ?? [];
  if (positionals.length > expected.length) throw new ConfigError(`unexpected argument "${positionals[expected.length]}" for "${spec.name}"`);
  const missing = expected.slice(positionals.length).find((p) => p.required);
  if (missing) throw new ConfigError(`"${spec.name}" needs ${missing.name} (see chat-server ${spec.name} --help)`);
  return { options: values as Parsed<O>["options"], positionals, config: loadConfig(settingArgs, env) };
}

/** A command from its spec and a run function over the parsed arguments. */
export function defineCommand<O extends string>(spec: CommandSpec<O>, run: (parsed: Parsed<O>) => Promise<void> | void): Command {
  return { name: spec.name, summary: spec.summary, help: () => commandHelp(spec), run: (args) => run(parseCommand(spec, args)) };
}

/** `chat-server <name> <sub> …`: dispatches to the subcommands, with a help listing them. */
export function defineCommandGroup(name: string, summary: string, description: string, subcommands: Record<string, Command>): Command {
  const names = Object.keys(subcommands);
  const help = () =>
    `Usage: chat-server ${name} <${names.join("|")}> [flags]\n\n${description}\n\nCommands:\n` +
    Object.entries(subcommands)
      .map(([sub, c]) => `  ${sub.padEnd(16)} ${c.summary}`)
      .join("\n") +
    `\n\nRun chat-server ${name} <command> --help for its flags.\n`;
  return {
    name,
    summary,
    help,
    handlesHelp: true,
    run(args) {
      const [first, ...rest] = args;
      if (first === "--help" || first === "-h") return void process.stdout.write(help());
      if (!first) throw new ConfigError(`${name} needs a command: ${names.join(", ")} (see chat-server ${name} --help)`);
      const sub = subcommands[first];
      if (!sub) throw new ConfigError(`unknown command "${name} ${first}" (see chat-server ${name} --help)`);
      if (rest.includes("--help") || rest.includes("-h")) return void process.stdout.write(sub.help());
      return sub.run(rest);
    },
  };
}
