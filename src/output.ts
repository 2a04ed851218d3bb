import { CchatError } from "./errors.ts";
import type { Deps } from "./deps.ts";
import type { Logger } from "./log.ts";

export interface OutputOptions {
  json: boolean;
  color: boolean;
  debug: boolean;
}

/** Whether to colour: never when NO_COLOR is set (any value), never off a terminal. */
export function useColor(env: Deps["env"], isTerminal: boolean): boolean {
  return isTerminal && env("NO_COLOR") === undefined;
}

const paint = (code: number) => (text: string, on: boolean) =>
  on ? `\x1b[${code}m${text}\x1b[0m` : text;
const red = paint(31);
const yellow = paint(33);
const dim = paint(2);

/** Data goes to stdout, everything said about it to stderr. */
export class Output implements Logger {
  constructor(
    private readonly sinks: Pick<Deps, "stdout" | "stderr">,
    readonly options: OutputOptions,
  ) {}

  get json(): boolean {
    return this.options.json;
  }

  /** One line of data for people. */
  line(text: string): void {
    this.sinks.stdout.write(text + "\n");
  }

  /** One JSON document for machines. */
  data(value: unknown): void {
    this.sinks.stdout.write(JSON.stringify(value) + "\n");
  }

  warn(message: string): void {
    this.sinks.stderr.write(`${yellow("warning:", this.options.color)} ${message}\n`);
  }

  info(message: string): void {
    this.sinks.stderr.write(message + "\n");
  }

  /** A failure that ends the command: one line, a hint, and a stack only when debugging. */
  fatal(err: unknown): void {
    this.sinks.stderr.write(formatFatal(err, this.options));
  }

  debug(message: string): void {
    if (this.options.debug) {
      this.sinks.stderr.write(dim(`debug: ${message}`, this.options.color) + "\n");
    }
  }
}

/** The output a command writes through, shaped by --json, NO_COLOR and CCHAT_DEBUG. */
export function outputFor(deps: Deps, json: boolean): Output {
  return new Output(deps, {
    json,
    color: useColor(deps.env, deps.stderrIsTerminal),
    debug: deps.env("CCHAT_DEBUG") === "1",
  });
}

/** Left-aligned columns separated by two spaces, for human output. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const render = (cells: string[]) =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i])).join("  ");
  return [render(header), ...rows.map(render)].join("\n");
}

/** The text a fatal error prints: one line, a hint, and a stack only when debugging. */
export function formatFatal(err: unknown, options: { color: boolean; debug: boolean }): string {
  const label = red("error:", options.color);
  let text: string;
  if (err instanceof CchatError) {
    text = `${label} ${err.message}\n`;
    if (err.hint) text += `hint: ${err.hint}\n`;
  } else {
    const message = err instanceof Error ? err.message : String(err);
    text = `${label} Unexpected failure: ${message}\n` +
      "hint: Run again with CCHAT_DEBUG=1 to see where it happened, and report it.\n";
  }
  if (options.debug && err instanceof Error && err.stack) {
    text += dim(err.stack, options.color) + "\n";
  }
  return text;
}
