// Test child: the `reclaim worktrees` verb in a real process (its arguments after the script's), writing to the
// process's own stdout and stderr, so that a test can run it on a pseudo-terminal (`script`) or on pipes.
import { Command } from "commander";
import { worktreesDefinition } from "./definition.ts";

const program = new Command();
worktreesDefinition.commands!(program, {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  exit: (code) => void (process.exitCode = code),
  instances: () => Promise.resolve([]),
});
await program.parseAsync(process.argv);
