import type { Command } from "commander";
import type { Io } from "./io.ts";

/** Verbs that belong to one hook package: `audit` (disk), `docker check-labels` (docker-images). */
export function registerExtraCommands(program: Command, io: Io, setCode: (code: number) => void): void {
  void program;
  void io;
  void setCode;
}
