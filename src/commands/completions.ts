/**
 * Shell completion. `completions SHELL` prints a script for bash, zsh or fish;
 * the script asks `cchat complete -- WORDS…` at every Tab, and the parser
 * itself proposes what may follow, so completion never drifts from the commands.
 */
import {
  type Application,
  buildChoiceParser,
  buildCommand,
  proposeCompletions,
} from "@stricli/core";
import { action, type CliContext } from "./common.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = typeof SHELLS[number];

/** What the scripts take from `complete`: no file names, only our proposals. */
const NO_FILE_COMPLETION = 4;

export function completionsCommand(program: string) {
  return buildCommand<Record<never, never>, [Shell], CliContext>({
    func: action(async (_run, _flags, shell: Shell) => {
      // Loaded here: no other command pays for the script templates.
      const { script } = await import("@bomb.sh/tab");
      const lines: string[] = [];
      const log = console.log;
      // The templates are printed with console.log; they go where our data goes.
      console.log = (...parts: unknown[]) => void lines.push(parts.join(" "));
      try {
        script(shell, program, program);
      } finally {
        console.log = log;
      }
      return { text: lines.join("\n") };
    }),
    parameters: {
      flags: {},
      positional: {
        kind: "tuple",
        parameters: [{
          brief: SHELLS.join(", "),
          parse: buildChoiceParser(SHELLS),
          placeholder: "SHELL",
        }],
      },
    },
    docs: {
      brief: "Print the shell completion script for bash, zsh or fish",
      fullDescription:
        "Prints the completion script. For example: cchat completions bash > /etc/bash_completion.d/cchat, or source <(cchat completions zsh), or cchat completions fish | source.",
    },
  });
}

/** The hidden command the completion scripts call, answering in their line protocol. */
export function completeCommand(app: () => Application<CliContext>) {
  return buildCommand<Record<never, never>, string[], CliContext>({
    func: action(async ({ deps }, _flags, ...words: string[]) => {
      const proposals = await proposeCompletions(app(), words, {
        process: { stdout: deps.stdout, stderr: deps.stderr },
        deps,
      } as CliContext);
      const lines = proposals.map(({ completion, brief }) => `${completion}\t${brief}`);
      return { text: [...lines, `:${NO_FILE_COMPLETION}`].join("\n") };
    }),
    parameters: {
      flags: {},
      positional: { kind: "array", parameter: { brief: "the words typed so far", parse: String } },
    },
    docs: { brief: "Propose completions (called by the completion scripts)" },
  });
}
