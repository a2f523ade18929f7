import { register } from "node:module";

register("./_test_ts_hooks.mjs", import.meta.url);
