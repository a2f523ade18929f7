#!/usr/bin/env -S node --max-semi-space-size=4
import { processIo } from "./io.ts";
import { main } from "./program.ts";

process.exitCode = await main(process.argv.slice(2), processIo());
